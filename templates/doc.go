// Package templates renders breach notices: to the people affected (GDPR
// Art. 34, and California's Civ. Code § 1798.82 form), to a supervisory
// authority (every GDPR Art. 33(3) field, also as a Markdown document for web
// portals), and from us as processor to a business customer (Art. 33(2)). Each
// is written in English, German, French, Spanish and Brazilian Portuguese,
// chosen by the recipient's locale, as a subject, a text part and an HTML part.
//
// The contract:
//
//   - A notice that lacks what the law requires of it is not rendered: Render,
//     Document and Validate return an apperr.Invalid error naming the field
//     (what_happened, organisation.contact_name, reasons_for_delay, ...).
//   - Every piece of data is escaped in the HTML part; the text part carries
//     it as written; the subject is always one line.
//   - The text and the HTML part say the same thing, word for word: both are
//     rendered from one template source per kind and language (see README.md).
//   - No recipient's personal data passes through here. Notices to
//     individuals carry NamePlaceholder where the name goes; the sender
//     substitutes it per recipient.
//   - Rendering is pure: no clock, no I/O beyond the embedded files, the same
//     output for the same input (the golden files in testdata/ hold it).
package templates
