package mail

import (
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/ssobroker/ssobroker/directory"
	"github.com/ssobroker/ssobroker/directory/access"
)

// roleLabels are the org roles as a person reads them.
var roleLabels = map[access.OrgRole]string{
	access.RoleAdmin:          "Admin",
	access.RolePlatformMember: "Platform member",
	access.RoleOpikMember:     "Opik member",
	access.RoleViewOnly:       "View-only platform member",
}

// RoleLabel names an org role for a person ("Platform member").
func RoleLabel(r access.OrgRole) string {
	if l, ok := roleLabels[r]; ok {
		return l
	}
	return string(r)
}

// invitationData fills the invitation templates.
type invitationData struct {
	Org, Inviter, Role, Email, AcceptURL, Expires string
}

var invitationText = texttemplate.Must(texttemplate.New("text").Parse(`Hello,

{{if .Inviter}}{{.Inviter}} invited you{{else}}You are invited{{end}} to join {{.Org}} as {{.Role}}.

Accept the invitation:
{{.AcceptURL}}

You will sign in with your work email, {{.Email}}. The invitation expires on {{.Expires}}.

If you did not expect this invitation, you can ignore this email.
`))

var invitationHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Invitation to {{.Org}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #1f2328;">
<p>Hello,</p>
<p>{{if .Inviter}}<strong>{{.Inviter}}</strong> invited you{{else}}You are invited{{end}} to join <strong>{{.Org}}</strong> as <strong>{{.Role}}</strong>.</p>
<p><a href="{{.AcceptURL}}" style="display: inline-block; padding: 10px 16px; background: #0b57d0; color: #ffffff; text-decoration: none; border-radius: 6px;">Accept the invitation</a></p>
<p>Or open this link: <a href="{{.AcceptURL}}">{{.AcceptURL}}</a></p>
<p>You will sign in with your work email, {{.Email}}. The invitation expires on {{.Expires}}.</p>
<p style="color: #59636e;">If you did not expect this invitation, you can ignore this email.</p>
</body></html>
`))

func invitationMessage(inv directory.Invitation, orgName, inviterName, acceptURL string) (message, error) {
	d := invitationData{
		Org: oneLine(orgName), Inviter: oneLine(inviterName), Role: RoleLabel(inv.Role), Email: inv.Email,
		AcceptURL: acceptURL, Expires: inv.ExpiresAt.UTC().Format("Monday 2 January 2006, 15:04 UTC"),
	}
	var text, html strings.Builder
	if err := invitationText.Execute(&text, d); err != nil {
		return message{}, err
	}
	if err := invitationHTML.Execute(&html, d); err != nil {
		return message{}, err
	}
	subject := "You are invited to join " + d.Org
	if d.Inviter != "" {
		subject = d.Inviter + " invited you to join " + d.Org
	}
	return message{to: inv.Email, subject: subject, text: text.String(), html: html.String()}, nil
}

// joinRequestData fills the join-request templates.
type joinRequestData struct {
	Org, Requester, Email, ReviewURL string
}

var joinRequestText = texttemplate.Must(texttemplate.New("text").Parse(`Hello,

{{.Requester}}{{if .Email}} ({{.Email}}){{end}} signed in and asks to join {{.Org}}.

Approve or deny the request:
{{.ReviewURL}}

You receive this email because you are an admin of {{.Org}}.
`))

var joinRequestHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Requester}} asks to join {{.Org}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #1f2328;">
<p>Hello,</p>
<p><strong>{{.Requester}}</strong>{{if .Email}} ({{.Email}}){{end}} signed in and asks to join <strong>{{.Org}}</strong>.</p>
<p><a href="{{.ReviewURL}}" style="display: inline-block; padding: 10px 16px; background: #0b57d0; color: #ffffff; text-decoration: none; border-radius: 6px;">Review the request</a></p>
<p>Or open this link: <a href="{{.ReviewURL}}">{{.ReviewURL}}</a></p>
<p style="color: #59636e;">You receive this email because you are an admin of {{.Org}}.</p>
</body></html>
`))

func joinRequestMessage(adminEmail, orgName, requesterName, requesterEmail, reviewURL string) (message, error) {
	d := joinRequestData{Org: oneLine(orgName), Requester: oneLine(requesterName), Email: requesterEmail, ReviewURL: reviewURL}
	if d.Requester == "" {
		d.Requester, d.Email = requesterEmail, ""
	}
	var text, html strings.Builder
	if err := joinRequestText.Execute(&text, d); err != nil {
		return message{}, err
	}
	if err := joinRequestHTML.Execute(&html, d); err != nil {
		return message{}, err
	}
	return message{to: adminEmail, subject: d.Requester + " asks to join " + d.Org, text: text.String(), html: html.String()}, nil
}
