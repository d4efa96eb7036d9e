// Package sources streams the people affected by a breach out of the
// exports and databases that hold them: CSV files, JSON Lines files and
// PostgreSQL queries. Each source reads rows one at a time and hands every
// good one to emit as a Record (a normalized, valid subjects.Person with the
// row it came from) and every bad one to reject as a Rejection (the row and
// what is wrong), in input order. Memory stays flat however many rows there
// are: nothing is collected, and a reader's buffers are reused.
//
// # The rules every source follows
//
//   - A bad row never stops the others. Read returns early only when ctx is
//     cancelled, emit returns an error (returned as is), or the input cannot
//     be read at all (an I/O error, a CSV header without the id column, a
//     query PostgreSQL refuses). Bad input is an apperr.Invalid error, an
//     unreachable database apperr.Unavailable.
//   - Row numbers are what a person opening the file would count: the line
//     where a CSV record starts (the header is line 1, quoted fields that
//     span lines included), the line of a JSONL object, the 1-based row of a
//     query result.
//   - A person is valid when subjects.Person.Normalize().Validate() says so;
//     the sources only add two checks Validate would make more slowly (a
//     plain address such as ana@example.com skips net/mail, locales are
//     checked once each) and never change its verdict.
//   - A person's country is the country column; where it is empty and
//     Fields.CountryFromLocale is set, the region of the locale (de-AT →
//     AT); with neither, the row is rejected "missing country".
//   - A rejection's reason never repeats the row's personal data. It says
//     "invalid email address", never the address; it quotes a value only
//     when it looks like the code the field should hold (`unknown country
//     code "XX"`) and writes "(value not shown)" for anything else, such as
//     a name that landed in the country column.
//
// # Columns
//
// Fields names the columns to read; the defaults are id, email, name,
// locale, country, region, categories, system and seen_at, NoColumn ("-")
// says a source has none, and FixedCountry, FixedRegion and FixedSystem give
// every row the same value. FieldsFor builds them from a data map system's
// residence, region and seen_at. Only the id is required; other columns are
// ignored. categories holds breachctl data categories separated by ';' or
// '|' (a list in JSON, text[] in PostgreSQL); seen_at is when the data about
// the person was written, RFC 3339 in files.
//
// # Performance
//
// BenchmarkCSV, BenchmarkJSONL and BenchmarkPostgres read generated people
// and report rows/s and the peak heap:
//
//	BREACHCTL_BENCH_ROWS=1000000 go test ./internal/sources -run '^$' -bench . -benchtime 3x
//
// The CSV path makes about two allocations per row (the record's text, and
// the categories when there are some).
package sources
