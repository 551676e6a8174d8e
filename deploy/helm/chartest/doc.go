// Package chartest renders the Helm chart in deploy/helm/ssobroker with Helm's
// own Go packages (the install action, client-only, as `helm install --dry-run`
// does) and decodes every manifest strictly into the Kubernetes API types.
//
// It is a module of its own so that Helm and the Kubernetes libraries stay out
// of the broker's dependency graph; .ci/test runs it after the main tests.
package chartest
