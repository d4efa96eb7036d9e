package templates

import "time"

// texts are the parts of a notice a person writes, in one language.
type texts struct {
	whatHappened, consequences, measures, whatYouCanDo string
	offer, delay                                       string
	impact                                             string // the consequences, told to an authority or a controller
	subjects                                           []string
	citation                                           map[Kind]string
}

// fixtureTexts is one incident, told in each language: a support account
// taken over with a stolen password, customer records and their attached
// photos and ID scans copied.
var fixtureTexts = map[string]texts{
	"en": {
		impact:       "The attacker could use the names and email addresses to send convincing phishing messages that appear to come from us. The passwords were stored in protected (hashed) form, but weak passwords could still be guessed. The copies of driver's licenses could be misused to impersonate the people concerned.",
		whatHappened: "On 1 March 2026 an attacker signed in to our customer support system with the password of one of our support staff, which had been stolen from her in an unrelated attack. From there the attacker copied part of the records of customers who had contacted support, including the photos they had attached to their requests.\n\nWe noticed the unusual activity on 4 March 2026 and locked the account the same day.",
		consequences: "The attacker could use your name and email address to send you convincing phishing messages that appear to come from us. Your password was stored in protected (hashed) form, but a weak password could still be guessed. The copy of your driver's license could be misused to impersonate you.",
		measures:     "We locked the compromised account, required a new password and two-factor sign-in for all support staff, and reset the passwords of all affected customers. We reported the breach to the Berlin data protection authority and to the police, and an external security firm is reviewing our systems.",
		whatYouCanDo: "Choose a new password when you next sign in, and change it anywhere else you used the same one. Be wary of messages that ask for your password or payment details, even if they appear to come from us: we never ask for them by email.",
		offer:        "We are offering you 24 months of identity protection services from SecureID at no cost. To enrol, visit https://secureid.example/enrol by 30 June 2026 and enter the code PIXEL-2026.",
		delay:        "We needed time to establish, with the external security firm, which records the attacker had copied; until then we could not say whom the breach concerned. We informed the authority as soon as the first results were available.",
		subjects:     []string{"Customers who contacted our customer support"},
		citation: map[Kind]string{
			Individuals: "Art. 34 GDPR",
			California:  "Cal. Civ. Code § 1798.82",
			Authority:   "Art. 33 GDPR",
			Controller:  "Art. 33(2) GDPR and the data processing agreement of 1 June 2024",
		},
	},
	"de": {
		impact:       "Der Angreifer könnte die Namen und E-Mail-Adressen nutzen, um täuschend echte Phishing-Nachrichten in unserem Namen zu verschicken. Die Passwörter waren geschützt (gehasht) gespeichert, schwache Passwörter könnten aber dennoch erraten werden. Die Kopien von Führerscheinen könnten missbraucht werden, um sich als die betroffenen Personen auszugeben.",
		whatHappened: "Am 1. März 2026 hat sich ein Angreifer mit dem Passwort einer unserer Support-Mitarbeiterinnen in unserem Kundensupport-System angemeldet; das Passwort war ihr bei einem anderen Angriff gestohlen worden. Der Angreifer hat einen Teil der Datensätze von Kundinnen und Kunden kopiert, die sich an unseren Support gewandt hatten, einschließlich der Fotos, die sie ihren Anfragen beigefügt hatten.\n\nWir haben die ungewöhnlichen Aktivitäten am 4. März 2026 bemerkt und das Konto noch am selben Tag gesperrt.",
		consequences: "Der Angreifer könnte Ihren Namen und Ihre E-Mail-Adresse nutzen, um Ihnen täuschend echte Phishing-Nachrichten in unserem Namen zu schicken. Ihr Passwort war geschützt (gehasht) gespeichert, ein schwaches Passwort könnte aber dennoch erraten werden. Die Kopie Ihres Führerscheins könnte missbraucht werden, um sich als Sie auszugeben.",
		measures:     "Wir haben das betroffene Konto gesperrt, für alle Support-Mitarbeitenden ein neues Passwort und die Anmeldung mit zweitem Faktor verlangt und die Passwörter aller betroffenen Kundinnen und Kunden zurückgesetzt. Wir haben die Verletzung der Berliner Datenschutzbehörde und der Polizei gemeldet und lassen unsere Systeme von einem externen Sicherheitsunternehmen prüfen.",
		whatYouCanDo: "Wählen Sie bei Ihrer nächsten Anmeldung ein neues Passwort und ändern Sie es überall dort, wo Sie dasselbe Passwort verwenden. Seien Sie vorsichtig bei Nachrichten, die nach Ihrem Passwort oder Ihren Zahlungsdaten fragen, auch wenn sie scheinbar von uns kommen: Wir fragen danach nie per E-Mail.",
		offer:        "Wir bieten Ihnen 24 Monate lang kostenlos einen Identitätsschutz-Dienst von SecureID an. Um ihn zu nutzen, melden Sie sich bis zum 30. Juni 2026 unter https://secureid.example/enrol mit dem Code PIXEL-2026 an.",
		delay:        "Wir brauchten Zeit, um gemeinsam mit dem externen Sicherheitsunternehmen festzustellen, welche Datensätze der Angreifer kopiert hatte; vorher konnten wir nicht sagen, wen die Verletzung betrifft. Wir haben die Behörde informiert, sobald die ersten Ergebnisse vorlagen.",
		subjects:     []string{"Kundinnen und Kunden, die sich an unseren Kundensupport gewandt haben"},
		citation: map[Kind]string{
			Individuals: "Art. 34 DSGVO",
			California:  "Cal. Civ. Code § 1798.82",
			Authority:   "Art. 33 DSGVO",
			Controller:  "Art. 33 Abs. 2 DSGVO und Auftragsverarbeitungsvertrag vom 1. Juni 2024",
		},
	},
	"fr": {
		impact:       "L'attaquant pourrait utiliser les noms et adresses e-mail pour envoyer des messages d'hameçonnage convaincants qui semblent venir de nous. Les mots de passe étaient conservés sous forme protégée (hachée), mais des mots de passe faibles pourraient tout de même être devinés. Les copies de permis de conduire pourraient être utilisées pour usurper l'identité des personnes concernées.",
		whatHappened: "Le 1er mars 2026, un attaquant s'est connecté à notre système d'assistance client avec le mot de passe d'une de nos employées du support, qui lui avait été volé lors d'une autre attaque. Il a copié une partie des dossiers des clients qui avaient contacté notre assistance, y compris les photos jointes à leurs demandes.\n\nNous avons remarqué cette activité inhabituelle le 4 mars 2026 et avons bloqué le compte le jour même.",
		consequences: "L'attaquant pourrait utiliser votre nom et votre adresse e-mail pour vous envoyer des messages d'hameçonnage convaincants qui semblent venir de nous. Votre mot de passe était conservé sous forme protégée (hachée), mais un mot de passe faible pourrait tout de même être deviné. La copie de votre permis de conduire pourrait être utilisée pour usurper votre identité.",
		measures:     "Nous avons bloqué le compte compromis, imposé un nouveau mot de passe et l'authentification à deux facteurs à tout le personnel du support et réinitialisé les mots de passe de tous les clients concernés. Nous avons notifié la violation à l'autorité de protection des données de Berlin et porté plainte auprès de la police, et une société de sécurité externe examine nos systèmes.",
		whatYouCanDo: "Choisissez un nouveau mot de passe lors de votre prochaine connexion et changez-le partout où vous utilisiez le même. Méfiez-vous des messages qui vous demandent votre mot de passe ou vos données de paiement, même s'ils semblent venir de nous : nous ne vous les demandons jamais par e-mail.",
		offer:        "Nous vous proposons gratuitement, pendant 24 mois, un service de protection contre l'usurpation d'identité de SecureID. Pour en bénéficier, inscrivez-vous avant le 30 juin 2026 sur https://secureid.example/enrol avec le code PIXEL-2026.",
		delay:        "Il nous a fallu du temps pour établir, avec la société de sécurité externe, quels dossiers l'attaquant avait copiés ; avant cela, nous ne pouvions pas dire qui était concerné. Nous avons informé l'autorité dès que les premiers résultats ont été disponibles.",
		subjects:     []string{"Clients ayant contacté notre assistance"},
		citation: map[Kind]string{
			Individuals: "article 34 du RGPD",
			California:  "Cal. Civ. Code § 1798.82",
			Authority:   "article 33 du RGPD",
			Controller:  "article 33, paragraphe 2, du RGPD et contrat de sous-traitance du 1er juin 2024",
		},
	},
	"es": {
		impact:       "El atacante podría utilizar los nombres y las direcciones de correo electrónico para enviar mensajes de phishing convincentes que parezcan nuestros. Las contraseñas estaban almacenadas de forma protegida (con hash), pero las contraseñas débiles podrían adivinarse. Las copias de permisos de conducir podrían utilizarse para suplantar la identidad de los interesados.",
		whatHappened: "El 1 de marzo de 2026, un atacante inició sesión en nuestro sistema de atención al cliente con la contraseña de una de nuestras empleadas de soporte, que le había sido robada en otro ataque. El atacante copió parte de los registros de los clientes que se habían puesto en contacto con nuestro servicio de soporte, incluidas las fotos que habían adjuntado a sus consultas.\n\nDetectamos la actividad inusual el 4 de marzo de 2026 y bloqueamos la cuenta ese mismo día.",
		consequences: "El atacante podría utilizar su nombre y su dirección de correo electrónico para enviarle mensajes de phishing convincentes que parezcan nuestros. Su contraseña estaba almacenada de forma protegida (con hash), pero una contraseña débil podría adivinarse. La copia de su permiso de conducir podría utilizarse para suplantar su identidad.",
		measures:     "Hemos bloqueado la cuenta comprometida, hemos exigido una nueva contraseña y la autenticación en dos pasos a todo el personal de soporte y hemos restablecido las contraseñas de todos los clientes afectados. Hemos notificado la violación a la autoridad de protección de datos de Berlín y la hemos denunciado a la policía, y una empresa de seguridad externa está revisando nuestros sistemas.",
		whatYouCanDo: "Elija una nueva contraseña la próxima vez que inicie sesión y cámbiela en cualquier otro servicio en el que utilice la misma. Desconfíe de los mensajes que le pidan su contraseña o sus datos de pago, aunque parezcan nuestros: nunca se los pedimos por correo electrónico.",
		offer:        "Le ofrecemos gratuitamente, durante 24 meses, un servicio de protección contra el robo de identidad de SecureID. Para darse de alta, visite https://secureid.example/enrol antes del 30 de junio de 2026 e introduzca el código PIXEL-2026.",
		delay:        "Necesitamos tiempo para determinar, junto con la empresa de seguridad externa, qué registros había copiado el atacante; hasta entonces no podíamos saber a quién afectaba la violación. Informamos a la autoridad en cuanto tuvimos los primeros resultados.",
		subjects:     []string{"Clientes que se pusieron en contacto con nuestro servicio de atención al cliente"},
		citation: map[Kind]string{
			Individuals: "artículo 34 del RGPD",
			California:  "Cal. Civ. Code § 1798.82",
			Authority:   "artículo 33 del RGPD",
			Controller:  "artículo 33, apartado 2, del RGPD y contrato de encargo del tratamiento de 1 de junio de 2024",
		},
	},
	"pt-BR": {
		impact:       "O invasor pode usar os nomes e e-mails para enviar mensagens de phishing convincentes que parecem ser nossas. As senhas estavam armazenadas de forma protegida (hash), mas senhas fracas ainda podem ser descobertas. As cópias de carteiras de habilitação podem ser usadas para alguém se passar pelos titulares.",
		whatHappened: "Em 1º de março de 2026, um invasor acessou nosso sistema de atendimento ao cliente com a senha de uma de nossas funcionárias do suporte, que havia sido roubada em outro ataque. O invasor copiou parte dos registros de clientes que haviam entrado em contato com o suporte, incluindo as fotos anexadas às solicitações.\n\nPercebemos a atividade incomum em 4 de março de 2026 e bloqueamos a conta no mesmo dia.",
		consequences: "O invasor pode usar seu nome e seu e-mail para enviar mensagens de phishing convincentes que parecem ser nossas. Sua senha estava armazenada de forma protegida (hash), mas uma senha fraca ainda pode ser descoberta. A cópia da sua carteira de habilitação pode ser usada para alguém se passar por você.",
		measures:     "Bloqueamos a conta comprometida, exigimos nova senha e autenticação em dois fatores de toda a equipe de suporte e redefinimos as senhas de todos os clientes afetados. Comunicamos o incidente à autoridade de proteção de dados de Berlim e à polícia, e uma empresa de segurança externa está analisando nossos sistemas.",
		whatYouCanDo: "Escolha uma nova senha no seu próximo acesso e altere-a em todos os serviços em que você usa a mesma senha. Desconfie de mensagens que peçam sua senha ou seus dados de pagamento, mesmo que pareçam vir de nós: nunca pedimos essas informações por e-mail.",
		offer:        "Oferecemos a você, sem custo, 24 meses de um serviço de proteção contra roubo de identidade da SecureID. Para aderir, acesse https://secureid.example/enrol até 30 de junho de 2026 e informe o código PIXEL-2026.",
		delay:        "Precisamos de tempo para apurar, com a empresa de segurança externa, quais registros o invasor havia copiado; antes disso, não era possível saber quem havia sido afetado. Informamos a autoridade assim que os primeiros resultados ficaram disponíveis.",
		subjects:     []string{"Clientes que entraram em contato com o nosso suporte"},
		citation: map[Kind]string{
			Individuals: "art. 48 da Lei nº 13.709/2018 (LGPD)",
			California:  "Cal. Civ. Code § 1798.82",
			Authority:   "art. 48 da Lei nº 13.709/2018 (LGPD)",
			Controller:  "art. 48 da LGPD e contrato de tratamento de dados de 1º de junho de 2024",
		},
	},
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

// fixture is the notice of one kind in one language, on time.
func fixture(kind Kind, lang string) NoticeData {
	tx := fixtureTexts[lang]
	d := NoticeData{
		Organisation: Organisation{
			Name:         "Pixelwerk Media GmbH",
			ContactName:  "Jana Roth",
			ContactEmail: "privacy@pixelwerk.example",
			ContactPhone: "+49 30 1234 5678",
			Website:      "https://pixelwerk.example/security",
			Address:      "Friedrichstraße 1\n10117 Berlin\nGermany",
		},
		IncidentID:         "INC-2026-0042",
		NoticeDate:         at("2026-03-06T10:00:00Z"),
		OccurredFrom:       ptr(at("2026-03-01T22:10:00Z")),
		OccurredTo:         ptr(at("2026-03-03T05:40:00Z")),
		DiscoveredAt:       at("2026-03-04T09:15:00Z"),
		WhatHappened:       tx.whatHappened,
		DataCategories:     []string{"media_content", "email", "name", "password_hash", "drivers_license"},
		LikelyConsequences: tx.consequences,
		MeasuresTaken:      tx.measures,
		WhatYouCanDo:       tx.whatYouCanDo,
		IdentityTheftOffer: tx.offer,
		Citation:           tx.citation[kind],
	}
	switch kind {
	case Authority, Controller:
		d.SubjectCategories = tx.subjects
		d.AffectedCount = 12873
		d.AffectedByJurisdiction = map[string]int{"DE": 8100, "FR": 2300, "US-CA": 1450, "BR": 1023, "ES": 0}
		d.RecordCount = 25746
		d.LikelyConsequences = tx.impact
		d.Recipient = "Berliner Beauftragte für Datenschutz und Informationsfreiheit"
		if kind == Controller {
			d.Recipient = "Example Retail SE, Data Protection Officer"
		}
	}
	return d
}

// lateFixture is the Authority notice after its deadline.
func lateFixture(lang string) NoticeData {
	d := fixture(Authority, lang)
	d.NoticeDate = at("2026-03-09T16:30:00Z")
	d.Late = true
	d.ReasonsForDelay = fixtureTexts[lang].delay
	return d
}
