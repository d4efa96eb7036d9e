package templates

import (
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/message"
)

// format is an output a template source is rendered to.
type format int

const (
	textPart    format = iota // the text part of an email
	htmlPart                  // the HTML part of an email
	markdownDoc               // the portal document
)

// Styles of the HTML part: inline, because email clients drop style sheets.
// The smallest type is 14px (10.5pt): California asks for at least 10-point.
const (
	font       = "font-family:Arial,Helvetica,sans-serif;color:#1a1a1a;"
	styleTitle = "margin:0 0 24px 0;" + font + "font-size:24px;line-height:1.3;font-weight:bold;"
	styleH     = "margin:28px 0 12px 0;" + font + "font-size:19px;line-height:1.3;font-weight:bold;"
	styleP     = "margin:0 0 16px 0;" + font + "font-size:16px;line-height:1.5;"
	styleUL    = "margin:0 0 16px 0;padding:0 0 0 24px;" + font + "font-size:16px;line-height:1.5;"
	styleLI    = "margin:0 0 6px 0;"
	styleNote  = "margin:0 0 8px 0;font-family:Arial,Helvetica,sans-serif;color:#4d4d4d;font-size:14px;line-height:1.4;"
)

// funcs are the building blocks a template source writes a notice with. They
// take plain text, from the template or from the data, and return it in the
// output's form; in HTML they escape everything they are given, and return
// template.HTML so html/template does not escape it twice. A template source
// is therefore plain text with calls to these functions, and renders to text,
// HTML and Markdown alike: the parts of an email cannot say different things.
//
//	title "..."          the notice's title
//	h "..."              a section heading
//	p "a" .X "b"         a paragraph: the parts joined, line breaks folded
//	note "a" .X          a paragraph of the footer
//	text .WhatHappened   a text a person wrote: paragraphs and line breaks kept
//	list .Items          a bulleted list
func funcs(f format, lb *labels) map[string]any {
	join := func(parts []string) string { return oneLine(strings.Join(parts, "")) }
	esc := htmltemplate.HTMLEscapeString
	switch f {
	case htmlPart:
		return map[string]any{
			"title": func(s string) htmltemplate.HTML {
				return htmltemplate.HTML(`<h1 style="` + styleTitle + `">` + esc(oneLine(s)) + "</h1>\n")
			},
			"h": func(s string) htmltemplate.HTML {
				return htmltemplate.HTML(`<h2 style="` + styleH + `">` + esc(oneLine(s)) + "</h2>\n")
			},
			"p": func(parts ...string) htmltemplate.HTML {
				return htmltemplate.HTML(`<p style="` + styleP + `">` + esc(join(parts)) + "</p>\n")
			},
			"note": func(parts ...string) htmltemplate.HTML {
				return htmltemplate.HTML(`<p style="` + styleNote + `">` + esc(join(parts)) + "</p>\n")
			},
			"text": func(s string) htmltemplate.HTML {
				var b strings.Builder
				for _, para := range paragraphs(s) {
					lines := strings.Split(para, "\n")
					for i := range lines {
						lines[i] = esc(lines[i])
					}
					b.WriteString(`<p style="` + styleP + `">` + strings.Join(lines, "<br>\n") + "</p>\n")
				}
				return htmltemplate.HTML(b.String())
			},
			"list": func(items []string) htmltemplate.HTML {
				var b strings.Builder
				b.WriteString(`<ul style="` + styleUL + `">` + "\n")
				for _, it := range items {
					b.WriteString(`<li style="` + styleLI + `">` + esc(oneLine(it)) + "</li>\n")
				}
				b.WriteString("</ul>\n")
				return htmltemplate.HTML(b.String())
			},
		}
	case markdownDoc:
		return map[string]any{
			"title": func(s string) string { return "# " + oneLine(s) + "\n\n" },
			"h":     func(s string) string { return "## " + oneLine(s) + "\n\n" },
			"p":     func(parts ...string) string { return join(parts) + "\n\n" },
			"note":  func(parts ...string) string { return join(parts) + "\n\n" },
			"text":  fenced,
			"list":  func(items []string) string { return bullets(items) },
		}
	}
	return map[string]any{
		"title": func(s string) string { return underline(oneLine(s), "=") },
		"h":     func(s string) string { return underline(oneLine(s), "-") },
		"p":     func(parts ...string) string { return join(parts) + "\n\n" },
		"note":  func(parts ...string) string { return join(parts) + "\n\n" },
		"text":  func(s string) string { return strings.Join(paragraphs(s), "\n\n") + "\n\n" },
		"list":  func(items []string) string { return bullets(items) },
	}
}

func underline(s, with string) string {
	return "\n" + s + "\n" + strings.Repeat(with, utf8.RuneCountInString(s)) + "\n\n"
}

func bullets(items []string) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString("- " + oneLine(it) + "\n")
	}
	return b.String() + "\n"
}

// paragraphs splits a text a person wrote into paragraphs at empty lines,
// keeping the line breaks within each and dropping trailing blanks.
func paragraphs(s string) []string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var out, cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(line, " \t")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return out
}

// fenced puts a text in a Markdown code fence longer than any run of
// backticks in it, so that it is shown word for word and nothing in it
// (a heading, a link, HTML) takes effect.
func fenced(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + "text\n" + strings.Join(paragraphs(s), "\n\n") + "\n" + fence + "\n\n"
}

// labels are the words of a language that are not sentences: the labels of
// data categories and contact details, region names the CLDR lacks, and how
// dates and numbers are written.
type labels struct {
	lang  string
	tag   language.Tag
	Colon string `json:"colon"`
	// Date is a pattern with {day}, {month} and {year}; FirstDay, if set, is
	// written for the first day of a month (French "1er").
	Date     string     `json:"date"`
	FirstDay string     `json:"first_day"`
	Months   [12]string `json:"months"`
	// DateTime is a pattern with {date} and {time}.
	DateTime     string `json:"date_time"`
	UnknownCount string `json:"unknown_count"`
	Contact      struct {
		Email   string `json:"email"`
		Phone   string `json:"phone"`
		Address string `json:"address"`
		Website string `json:"website"`
	} `json:"contact"`
	Regions    map[string]string `json:"regions"`
	Categories map[string]string `json:"categories"`
}

func labelsFor(lang string) (*labels, error) {
	b, err := fs.ReadFile(files, "labels/"+lang+".json")
	if err != nil {
		return nil, err
	}
	lb := &labels{lang: lang, tag: language.MustParse(lang)}
	if err := json.Unmarshal(b, lb); err != nil {
		return nil, fmt.Errorf("labels/%s.json: %w", lang, err)
	}
	return lb, nil
}

func (lb *labels) number(n int) string {
	return message.NewPrinter(lb.tag).Sprintf("%d", n)
}

// regionName is a region as a counsel reads it: its name in the language,
// with its code ("Deutschland (DE)"); a subdivision by its country's name.
func (lb *labels) regionName(code string) string {
	if name, ok := lb.Regions[code]; ok {
		return name + " (" + code + ")"
	}
	country, _, _ := strings.Cut(code, "-")
	r, err := language.ParseRegion(country)
	if err != nil || r.String() != country {
		return code
	}
	name := display.Regions(lb.tag).Name(r)
	if name == "" {
		return code
	}
	return name + " (" + code + ")"
}
