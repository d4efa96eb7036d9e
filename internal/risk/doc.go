// Package risk assesses how risky a personal-data breach is for the people
// affected, with the method ENISA published in 2013 ("Recommendations for a
// methodology of the assessment of severity of personal data breaches"):
//
//	SE = DPC × EI + CB
//
// DPC (data processing context, 1 to 4) is how damaging the data is; EI (ease
// of identification, 0.25 to 1) how easily it leads to the person, and scales
// DPC down; CB (circumstances of the breach, 0 to 2) adds for what happened to
// the data and why. The score falls in an ENISA band, and the band gives the
// Level:
//
//	SE < 2        low        → Low
//	2 ≤ SE < 3    medium     → Medium
//	3 ≤ SE < 4    high       → High
//	4 ≤ SE        very_high  → High
//
// The package is pure: no I/O, no clock, no Temporal or HTTP import. The same
// input always gives the same assessment, with reasons in a fixed order, so
// workflow code may call it and its JSON may travel in payloads (add fields;
// never rename or retype them).
//
// # DPC: data categories
//
// ENISA puts data in four base categories, each with a basic score: simple 1,
// behavioural 2, financial 3, sensitive 4. Contextual factors then move the
// score within 1 to 4. Each breachctl category maps to a base category and an
// adjustment we can justify from the category alone; the set scores the
// highest of its categories (ENISA scores each type and keeps the highest).
// Credentials are no category of their own in ENISA: they score as the data
// they open. We do not know what systems they open, so they score as financial
// data.
//
//	category             ENISA class   base adj  DPC   EI
//	name                 simple          1    .    1   maximum     1
//	email                simple          1    .    1   significant 0.75
//	phone                simple          1    .    1   significant 0.75
//	postal_address       simple          1    .    1   significant 0.75
//	date_of_birth        simple          1    .    1   limited     0.5
//	ssn                  simple          1   +2    3   maximum     1     identity fraud
//	drivers_license      simple          1   +2    3   maximum     1     identity fraud
//	passport             simple          1   +2    3   maximum     1     identity fraud
//	government_id        simple          1   +2    3   maximum     1     identity fraud
//	taxpayer_id          simple          1   +2    3   maximum     1     identity fraud
//	financial_account    financial       3    .    3   significant 0.75
//	payment_card         financial       3   +1    4   significant 0.75  usable for payments at once
//	account_credentials  credentials→fin 3    .    3   significant 0.75  open the account and, reused, others
//	password_hash        credentials→fin 3   -1    2   negligible  0.25  must be cracked first
//	health               sensitive       4    .    4   limited     0.5
//	health_insurance     sensitive       4   -1    3   significant 0.75  reveals less than a diagnosis
//	biometric            sensitive       4    .    4   maximum     1
//	genetic              sensitive       4    .    4   significant 0.75
//	precise_location     behavioural     2   +1    3   significant 0.75  home, work, clinics, worship
//	ip_address           behavioural     2   -1    1   limited     0.5   reveals little alone
//	device_id            behavioural     2   -1    1   limited     0.5   reveals little alone
//	usage_data           behavioural     2    .    2   negligible  0.25
//	media_content        behavioural     2   +1    3   significant 0.75  intimate life, extortion
//	api_key              credentials→fin 3    .    3   limited     0.5   opens the account's data
//	children_data        simple          1    .    1   negligible  0.25  and the whole set +1 (minors)
//	special_category     sensitive       4    .    4   limited     0.5
//
// An empty list means the data is not yet known and scores as the worst
// case: DPC 4 and EI maximum, with the reason saying so.
//
// children_data marks the people as minors, a contextual factor ENISA names
// (vulnerable individuals): the set's DPC rises by 1, capped at 4.
//
// Other ENISA factors need facts breachctl does not hold (how much data per
// person, what the controller does, whether the data was public, stale or
// wrong); a person who knows them records an Override with the reasons.
//
// # EI: ease of identification
//
// ENISA's four levels rise linearly: negligible 0.25, limited 0.5, significant
// 0.75, maximum 1. The set takes its most identifying category (column EI
// above). Date of birth with a postal address counts as maximum: the pair
// singles out nearly everyone. Content categories (health, special_category)
// name no one by themselves; list the identifiers that came with them.
//
// # CB: circumstances of the breach
//
// Each element adds ENISA's increment; CB is their sum.
//
//	Confidentiality  none                 0     no evidence the data was read
//	                 known_recipients     0.25  disclosed to recipients who can be named
//	                 unknown_recipients   0.5   disclosed to an unknown number
//	Integrity        none                 0     not altered, or no sign of misuse
//	                 recoverable          0.25  altered, possibly misused, original restorable
//	                 irrecoverable        0.5   altered, possibly misused, original lost
//	Availability     none                 0     available, or restored from a copy without difficulty
//	                 recoverable          0.25  unavailable for a while (ENISA: temporal)
//	                 irrecoverable        0.5   no copy left with the controller or the person
//	Malicious        true                 0.5   theft, hacking, deliberate harm
//
// An empty value means not yet known and scores as the worst case of its
// element (0.5), and the reason says so: a breach is not assumed contained
// before someone has found out. So CB is 1.5 until the circumstances are
// known.
//
// # Beyond the formula
//
// ENISA leaves two matters outside the formula. The number of people is one:
// it is recorded in Parts.Notes and weighed by the notification rules, never
// multiplied into the score. Unintelligible data is the other: with
// Input.Encrypted the level is None (GDPR Art. 34(3)(a); EDPB Guidelines
// 9/2022), but only when integrity and availability are known and neither is
// lost for good. Encryption keeps the data from an attacker; it does not give
// it back to the people it belongs to when the lost copy was the only one.
//
// An Override replaces the level with a person's judgement and its written
// justification; it takes precedence over encryption. The parts are still
// computed and kept beside it, and Parts.Notes records the computed level.
package risk
