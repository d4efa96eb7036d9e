package sendgridtest

// The v3 Mail Send request body, as far as breachctl uses it. Field names and
// shapes follow SendGrid's API reference (POST /v3/mail/send); a body the
// real API would reject for its shape is rejected here too.

// Mail is a decoded POST /v3/mail/send body.
type Mail struct {
	Personalizations []Personalization `json:"personalizations"`
	From             *Address          `json:"from"`
	ReplyTo          *Address          `json:"reply_to,omitempty"`
	Subject          string            `json:"subject,omitempty"`
	Content          []Content         `json:"content"`
	TemplateID       string            `json:"template_id,omitempty"`
	Headers          map[string]string `json:"headers,omitempty"`
	Categories       []string          `json:"categories,omitempty"`
	CustomArgs       map[string]string `json:"custom_args,omitempty"`
	SendAt           int64             `json:"send_at,omitempty"`
	BatchID          string            `json:"batch_id,omitempty"`
	MailSettings     *MailSettings     `json:"mail_settings,omitempty"`
}

// Personalization is one envelope of a request: its recipients and what is
// substituted for them.
type Personalization struct {
	To            []Address         `json:"to"`
	CC            []Address         `json:"cc,omitempty"`
	BCC           []Address         `json:"bcc,omitempty"`
	Subject       string            `json:"subject,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	Substitutions map[string]string `json:"substitutions,omitempty"`
	CustomArgs    map[string]string `json:"custom_args,omitempty"`
	SendAt        int64             `json:"send_at,omitempty"`
}

// Address is an email address with an optional display name.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Content is one body part: text/plain or text/html.
type Content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// MailSettings holds the settings breachctl uses; only sandbox mode changes
// what the server does (200, validated, nothing recorded).
type MailSettings struct {
	SandboxMode *Setting `json:"sandbox_mode,omitempty"`
}

// Setting is SendGrid's {"enable": bool} object.
type Setting struct {
	Enable *bool `json:"enable,omitempty"`
}

// ErrorResponse is SendGrid's error body (400, 401, 403, 413, 429, 5xx).
type ErrorResponse struct {
	Errors []ErrorItem `json:"errors"`
}

// ErrorItem is one error of an ErrorResponse. Field and Help are null when
// SendGrid has nothing to say.
type ErrorItem struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}
