package sources

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/breachctl/breachctl/internal/apperr"
)

// CSV reads people from a CSV file with a header row naming the columns
// (matched without regard to case or surrounding space; other columns are
// ignored). The categories column holds data categories separated by ';' or
// '|'; seen_at is an RFC 3339 time. Row numbers are the line where each
// record starts, quoted fields spanning lines included.
func CSV(name string, r io.Reader, f Fields) Source {
	return &csvSource{name: name, r: r, f: f}
}

type csvSource struct {
	name string
	r    io.Reader
	f    Fields
}

func (s *csvSource) Name() string { return s.name }

func (s *csvSource) Read(ctx context.Context, emit func(Record) error, reject func(Rejection)) error {
	cr := csv.NewReader(s.r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // a wrong count is a bad row, not a bad file
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return apperr.Invalidf(s.name, "the file is empty: its first line must be a header naming the columns")
	case err != nil:
		return s.fileError(err)
	}
	headerLine, _ := cr.FieldPos(0)
	idx, err := s.columns(header, headerLine)
	if err != nil {
		return err
	}
	want := len(header)
	b := newBuilder(s.name, s.f)
	var r row
	for n := 0; ; n++ {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote)) {
				// The reader has moved past the record; the next one is fine.
				reject(Rejection{Source: s.name, Row: pe.StartLine, Reason: "malformed CSV: " + pe.Err.Error()})
				continue
			}
			return s.fileError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != want {
			reject(Rejection{Source: s.name, Row: line, Reason: fmt.Sprintf("wrong number of columns: %d, want %d", len(rec), want)})
			continue
		}
		r.reset()
		for slot, i := range idx {
			if i >= 0 {
				r.v[slot] = rec[i]
			}
		}
		out, reason := b.build(&r, line)
		if reason != "" {
			reject(Rejection{Source: s.name, Row: line, Reason: reason})
			continue
		}
		if err := emit(out); err != nil {
			return err
		}
	}
}

func (s *csvSource) fileError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return apperr.Wrap(apperr.Invalid, err, "%s", s.name)
	}
	return fmt.Errorf("%s: %w", s.name, err)
}

// columns finds each field's column in the header: -1 where absent. Errors
// never list the header's cells: a file without a header has a person there.
func (s *csvSource) columns(header []string, line int) ([numCols]int, error) {
	var idx [numCols]int
	names := s.f.names()
	where := fmt.Sprintf("%s:%d", s.name, line)
	for slot, name := range names {
		idx[slot] = -1
		if name == "" {
			continue
		}
		for i, h := range header {
			if i == 0 {
				h = strings.TrimPrefix(h, "\ufeff") // a byte-order mark from a spreadsheet
			}
			if !strings.EqualFold(strings.TrimSpace(h), name) {
				continue
			}
			if idx[slot] >= 0 {
				return idx, apperr.Invalidf(where, "the header names the %s column twice (columns %d and %d)", name, idx[slot]+1, i+1)
			}
			idx[slot] = i
		}
	}
	if idx[colID] < 0 {
		return idx, apperr.Invalidf(where, "the header has no %s column: the first line must name the columns, one of them %s (the person's id)", names[colID], names[colID])
	}
	if s.f.FixedCountry == "" && idx[colCountry] < 0 && !(s.f.CountryFromLocale && idx[colLocale] >= 0) {
		what := "a country column"
		if names[colCountry] != "" {
			what = "the " + names[colCountry] + " column"
		}
		hint := ""
		if s.f.CountryFromLocale {
			hint = fmt.Sprintf(", nor the %s column to derive the country from", names[colLocale])
		}
		return idx, apperr.Invalidf(where, "the header lacks %s%s: no row could say where the person lives", what, hint)
	}
	return idx, nil
}
