// Package datamap reads a company's data map: which systems it runs, which
// categories of personal data each holds, how long each keeps it, and how to
// tell where the people in it live. A company writes it once, in YAML, and
// every breach reuses it: an incident names the affected systems
// (`systems: [uploads]`), the map says what they held, and the subject
// sources (package sources) read the people out of each system's export with
// the columns the map names.
//
// # Format
//
// A full example (examples/datamaps/ has five more):
//
//	company: Pixelcrunch (image-compression API)   # required
//	systems:                                       # required, at least one
//	  - id: uploads                 # required; letters, digits, - _ . ; unique in the map
//	    description: Images uploaded for compression
//	    store: S3 bucket pixelcrunch-uploads       # optional, free text: where the data lives
//	    categories: [media_content, ip_address]     # required; breachctl's data categories
//	    retention: 1h               # required: a Go duration (90m, 24h), whole days (30d), or indefinite
//	    residence: {field: country} # where a person lives; see below. Default {field: country}
//	    region: {field: region}     # optional: the ISO 3166-2 subdivision (US states, CA provinces)
//	    seen_at: uploaded_at        # optional column: when the data about the person was written
//	    note: >                     # optional, free text: why these categories, what was left out
//	      The original file and the compressed result; both are deleted by a
//	      lifecycle rule one hour after upload.
//	  - id: accounts
//	    description: Customer accounts
//	    store: PostgreSQL
//	    categories: [name, email, password_hash]
//	    retention: indefinite       # kept until the customer deletes the account
//	    residence: {field: country, locale: locale}
//	    region: {field: region}
//	    seen_at: updated_at
//	  - id: support
//	    categories: [name, email]
//	    retention: 730d
//	    residence: {locale: locale}
//
// # Residence
//
// residence says how to tell where a person lives, which decides the laws
// that apply. It is a mapping with one of:
//
//	{field: <column>}                   the column holds an ISO 3166-1 alpha-2 code (DE, US)
//	{locale: <column>}                  the column holds a BCP 47 locale; the country is its region (de-DE → DE)
//	{field: <column>, locale: <column>} the country column, or the locale's region where the country is empty
//	{fixed: <code>}                     every person in the system lives in that country
//
// A locale is weaker evidence than an address: it says which language a
// person reads, and people abroad keep theirs. Prefer a country column where
// the system has one, and use the locale as the fallback.
//
// region is {field: <column>} (the column holds CA or US-CA for California)
// or, with a fixed residence, {fixed: US-CA}.
//
// # Retention and seen_at
//
// retention is how long the system keeps the data about a person after it
// was written; indefinite means until someone deletes it. With seen_at, it
// narrows a breach to the people whose data was still held when the system
// was exposed: an image uploaded at 09:00 to a system with a 1h retention was
// gone by 10:30 (see System.Held). Round retention up, never down: a map that
// says 30d for "one month" leaves out people from the 31st day.
//
// # Errors
//
// Every error names the file and line: an unknown key (a typo such as
// `retension` would otherwise silently keep data forever), an unknown data
// category, a retention that is not a duration, a duplicate system id, a
// residence that is not one of the shapes above. Errors have the apperr
// kind Invalid.
package datamap
