package directory

import "strings"

// consumerMailDomains are mail domains anyone can get an address at: no
// organization can prove it owns them, so none may claim one (a verified
// domain vouches for every address in it; docs/security.md). The list is
// short on purpose: the largest free mail providers, in ASCII form.
func consumerMailDomains() []string {
	return []string{
		"gmail.com", "googlemail.com",
		"outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", "outlook.fr", "hotmail.fr",
		"yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com", "rocketmail.com",
		"icloud.com", "me.com", "mac.com",
		"aol.com", "proton.me", "protonmail.com", "pm.me",
		"gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com",
		"yandex.com", "yandex.ru", "mail.ru", "qq.com", "163.com", "126.com",
		"zoho.com", "tutanota.com", "fastmail.com", "hey.com",
	}
}

// IsConsumerMailDomain reports whether domain (normalized, as
// NormalizeDomain returns it) is a consumer mail domain or below one.
func IsConsumerMailDomain(domain string) bool {
	for _, c := range consumerMailDomains() {
		if domain == c || strings.HasSuffix(domain, "."+c) {
			return true
		}
	}
	return false
}
