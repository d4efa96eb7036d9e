package activities

import "testing"

func TestStoreNameKeepsNoPassword(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://breachctl:s3cret@db:5432/breachctl?sslmode=disable": "postgres://breachctl@db:5432/breachctl?sslmode=disable",
		"postgres://db/breachctl?password=s3cret&sslmode=require":       "postgres://db/breachctl?sslmode=require",
		"host=db user=breachctl password=s3cret dbname=breachctl":       "host=db user=breachctl dbname=breachctl",
		"sqlite:/var/lib/breachctl/breachctl.db":                        "sqlite:/var/lib/breachctl/breachctl.db",
	} {
		if got := StoreName(dsn); got != want {
			t.Errorf("StoreName(%q) = %q, want %q", dsn, got, want)
		}
	}
}
