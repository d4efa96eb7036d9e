package risk

// class is one of ENISA's four base categories of data. Its number is the
// basic DPC score before contextual adjustment.
type class int

const (
	simple      class = 1 // biographical and contact data
	behavioural class = 2 // location, traffic, habits, preferences
	financial   class = 3 // income, accounts, cards, transactions
	sensitive   class = 4 // health, sex life, beliefs, biometric and genetic data
)

func (c class) String() string {
	switch c {
	case simple:
		return "simple"
	case behavioural:
		return "behavioural"
	case financial:
		return "financial"
	case sensitive:
		return "sensitive"
	}
	return "unknown"
}

// ease is an ENISA ease-of-identification level; its value is the EI factor.
type ease float64

const (
	negligible  ease = 0.25 // matching the data to a person is extremely hard
	limited     ease = 0.5  // possible, but needs other records (an ISP's, a bank's)
	significant ease = 0.75 // possible with little effort or public sources
	maximum     ease = 1    // the data names the person; no research needed
)

func (e ease) String() string {
	switch e {
	case negligible:
		return "negligible"
	case limited:
		return "limited"
	case significant:
		return "significant"
	case maximum:
		return "maximum"
	}
	return "unknown"
}

// category is how one of breachctl's data categories enters the ENISA score.
// The table in doc.go mirrors this one; change both together and bump
// TableVersion.
type category struct {
	code   string
	class  class
	adjust int    // ENISA contextual adjustment to the basic score
	why    string // why the class, and the adjustment if any
	ease   ease
	easeOf string // why that ease of identification
}

// dpc is the category's score: its class adjusted, kept within 1..4.
func (c category) dpc() float64 { return float64(clamp(int(c.class)+c.adjust, 1, 4)) }

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

// categories is in the order of incident.DataCategories; output that lists
// categories follows it, whatever order the input came in.
var categories = []category{
	{"name", simple, 0, "contact and biographical data",
		maximum, "a name points at the person with no research"},
	{"email", simple, 0, "contact data",
		significant, "an address often carries the name and is easily searched"},
	{"phone", simple, 0, "contact data",
		significant, "a number is usually personal and reverse directories resolve it"},
	{"postal_address", simple, 0, "contact data",
		significant, "an address narrows to a household"},
	{"date_of_birth", simple, 0, "biographical data",
		limited, "identifies only in combination with other data"},
	{"ssn", simple, +2, "an official identifier; raised by 2 because it opens credit, accounts and benefits in the person's name (identity fraud)",
		maximum, "a unique number issued against a verified identity"},
	{"drivers_license", simple, +2, "an identity document; raised by 2 because it lets others pass as the person (identity fraud)",
		maximum, "a unique number issued against a verified identity"},
	{"passport", simple, +2, "an identity document; raised by 2 because it lets others pass as the person (identity fraud)",
		maximum, "a unique number issued against a verified identity"},
	{"government_id", simple, +2, "an official identifier; raised by 2 because it lets others pass as the person (identity fraud)",
		maximum, "a unique number issued against a verified identity"},
	{"taxpayer_id", simple, +2, "an official identifier; raised by 2 because it opens tax and benefit records in the person's name (identity fraud)",
		maximum, "a unique number issued against a verified identity"},
	{"financial_account", financial, 0, "financial data",
		significant, "an account is held in a verified name"},
	{"payment_card", financial, +1, "financial data; raised by 1 because card details can be used for payments at once (assumed complete: number and expiry)",
		significant, "a card is issued in a verified name"},
	{"account_credentials", financial, 0, "credentials, which ENISA scores as the data they open; the systems are not known, so scored as financial (reused passwords open mail, shops and banks)",
		significant, "the username or email comes with them and the account holds the profile"},
	{"password_hash", financial, -1, "credentials, scored as the data they open (financial, as for account_credentials); lowered by 1 because the hashes must be cracked first",
		negligible, "a hash alone points at no one"},
	{"health", sensitive, 0, "health data (GDPR Art. 9)",
		limited, "records need an identifier from elsewhere to name the person"},
	{"health_insurance", sensitive, -1, "health-related; lowered by 1 because the insurance relationship reveals less than a diagnosis",
		significant, "a member number is held against a verified identity"},
	{"biometric", sensitive, 0, "biometric data (GDPR Art. 9)",
		maximum, "biometric data exists to single a person out"},
	{"genetic", sensitive, 0, "genetic data (GDPR Art. 9)",
		significant, "unique to the person; matched through relatives and genealogy databases"},
	{"precise_location", behavioural, +1, "behavioural data; raised by 1 because precise traces show home, work and visits to clinics or places of worship",
		significant, "a few points (home, work) single a person out"},
	{"ip_address", behavioural, -1, "traffic data; lowered by 1 because an address alone reveals little behaviour",
		limited, "needs the network operator's records"},
	{"device_id", behavioural, -1, "behavioural data; lowered by 1 because an identifier alone reveals little behaviour",
		limited, "needs records that link the device to its owner"},
	{"usage_data", behavioural, 0, "behavioural data: habits and preferences",
		negligible, "activity records alone rarely point at one person"},
	{"media_content", behavioural, +1, "personal life; raised by 1 because private images, video and audio can expose intimate life and invite extortion",
		significant, "faces and voices are recognised by people who know them"},
	{"api_key", financial, 0, "credentials, scored as the data they open; the systems are not known, so scored as financial",
		limited, "a key names an account, not a person; the issuing service knows whose"},
	{"children_data", simple, 0, "marks the people as minors; the whole set is raised by 1 (see below)",
		negligible, "a marker, not an identifier"},
	{"special_category", sensitive, 0, "special-category data (GDPR Art. 9)",
		limited, "needs an identifier from elsewhere to name the person"},
}

// minorsAdjust raises the DPC of a set that concerns children: ENISA counts
// vulnerable individuals among the contextual factors that raise the score.
const minorsAdjust = 1

// Categories returns the data category codes the model knows, in the order
// its output lists them.
func Categories() []string {
	out := make([]string, len(categories))
	for i, c := range categories {
		out[i] = c.code
	}
	return out
}

func lookup(code string) (category, bool) {
	for _, c := range categories {
		if c.code == code {
			return c, true
		}
	}
	return category{}, false
}
