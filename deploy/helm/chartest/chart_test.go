package chartest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "../ssobroker"

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the
// chart writes; any other field fails the strict decode.
type serviceMonitor struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1ObjectMeta  `json:"metadata"`
	Spec       serviceMonitorSpc `json:"spec"`
}

type metav1ObjectMeta struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type serviceMonitorSpc struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	NamespaceSelector struct {
		MatchNames []string `json:"matchNames"`
	} `json:"namespaceSelector"`
	Endpoints []struct {
		Port          string `json:"port"`
		Path          string `json:"path"`
		Interval      string `json:"interval"`
		ScrapeTimeout string `json:"scrapeTimeout"`
	} `json:"endpoints"`
}

// rendered is one release's objects, decoded, by kind.
type rendered struct {
	deployments []appsv1.Deployment
	services    []corev1.Service
	secrets     []corev1.Secret
	pvcs        []corev1.PersistentVolumeClaim
	pdbs        []policyv1.PodDisruptionBudget
	ingresses   []networkingv1.Ingress
	jobs        []batchv1.Job
	monitors    []serviceMonitor
	notes       string
}

// render installs the chart with vals as `helm install --dry-run` does
// (client-only: no cluster) and strictly decodes every manifest, hooks
// included. It returns the error of rendering, if any.
func render(t *testing.T, vals map[string]any) (*rendered, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	cfg := &action.Configuration{Log: func(string, ...any) {}}
	install := action.NewInstall(cfg)
	install.ClientOnly = true
	install.DryRun = true
	install.DryRunOption = "client"
	install.ReleaseName = "sso"
	install.Namespace = "auth"
	install.Replace = true
	kv, err := chartutil.ParseKubeVersion("v1.31.0")
	if err != nil {
		t.Fatal(err)
	}
	install.KubeVersion = kv
	rel, err := install.RunWithContext(context.Background(), chrt, vals)
	if err != nil {
		return nil, err
	}
	var out rendered
	out.notes = rel.Info.Notes
	var docs []string
	for _, m := range releaseutil.SplitManifests(rel.Manifest) {
		docs = append(docs, m)
	}
	for _, h := range rel.Hooks {
		docs = append(docs, h.Manifest)
	}
	sort.Strings(docs)
	for _, doc := range docs {
		if err := out.decode(doc); err != nil {
			t.Fatal(err)
		}
	}
	return &out, nil
}

// decode strictly decodes one manifest into its Kubernetes API type and
// keeps it; an unknown kind, a wrong apiVersion or an unknown field fails.
func (out *rendered) decode(doc string) error {
	if strings.TrimSpace(doc) == "" {
		return nil
	}
	raw, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return fmt.Errorf("manifest is not YAML: %v\n%s", err, doc)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("manifest: %v\n%s", err, doc)
	}
	var target any
	want := map[string]string{
		"Deployment": "apps/v1", "Service": "v1", "Secret": "v1", "PersistentVolumeClaim": "v1",
		"PodDisruptionBudget": "policy/v1", "Ingress": "networking.k8s.io/v1", "Job": "batch/v1",
		"ServiceMonitor": "monitoring.coreos.com/v1",
	}[head.Kind]
	if want == "" || head.APIVersion != want {
		return fmt.Errorf("unexpected object %s %s (want apiVersion %q)\n%s", head.APIVersion, head.Kind, want, doc)
	}
	switch head.Kind {
	case "Deployment":
		out.deployments = append(out.deployments, appsv1.Deployment{})
		target = &out.deployments[len(out.deployments)-1]
	case "Service":
		out.services = append(out.services, corev1.Service{})
		target = &out.services[len(out.services)-1]
	case "Secret":
		out.secrets = append(out.secrets, corev1.Secret{})
		target = &out.secrets[len(out.secrets)-1]
	case "PersistentVolumeClaim":
		out.pvcs = append(out.pvcs, corev1.PersistentVolumeClaim{})
		target = &out.pvcs[len(out.pvcs)-1]
	case "PodDisruptionBudget":
		out.pdbs = append(out.pdbs, policyv1.PodDisruptionBudget{})
		target = &out.pdbs[len(out.pdbs)-1]
	case "Ingress":
		out.ingresses = append(out.ingresses, networkingv1.Ingress{})
		target = &out.ingresses[len(out.ingresses)-1]
	case "Job":
		out.jobs = append(out.jobs, batchv1.Job{})
		target = &out.jobs[len(out.jobs)-1]
	case "ServiceMonitor":
		out.monitors = append(out.monitors, serviceMonitor{})
		target = &out.monitors[len(out.monitors)-1]
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return fmt.Errorf("%s does not decode strictly into %T: %v\n%s", head.Kind, target, err, doc)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: trailing data after the object", head.Kind)
	}
	return nil
}

// The strict decode is what makes the other tests mean something: a
// misplaced or misspelt field, an unknown kind or an old apiVersion fails.
func TestStrictDecodeRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":    "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n",
		"misplaced field":  "apiVersion: v1\nkind: Service\nspec:\n  ports:\n    - port: 80\n      path: /x\n",
		"old apiVersion":   "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\n",
		"unknown kind":     "apiVersion: v1\nkind: ConfigMapp\n",
		"monitor extra":    "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nspec:\n  endpoint: []\n",
		"wrong field type": "apiVersion: batch/v1\nkind: Job\nspec:\n  backoffLimit: many\n",
	} {
		if err := new(rendered).decode(doc); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// mustRender renders vals and fails the test on a rendering error.
func mustRender(t *testing.T, vals map[string]any) *rendered {
	t.Helper()
	r, err := render(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// values parses a YAML values document.
func values(t *testing.T, doc string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(doc))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	return v.AsMap()
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// The README's production install: PostgreSQL and a Redis Cluster from an
// existing Secret, three replicas, an Ingress and a ServiceMonitor.
const productionValues = `
replicaCount: 3
issuer: https://sso.example.com
trustedProxies: 10.0.0.0/8
secretKey:
  existingSecret: ssobroker-secrets
database:
  existingSecret: ssobroker-secrets
redis:
  existingSecret: ssobroker-secrets
ingress:
  enabled: true
  className: nginx
  hosts:
    - host: sso.example.com
  tls:
    - secretName: sso-tls
      hosts: [sso.example.com]
serviceMonitor:
  enabled: true
  labels: {release: prometheus}
`

func TestProductionInstall(t *testing.T) {
	r := mustRender(t, values(t, productionValues))
	if len(r.deployments) != 1 || len(r.services) != 1 || len(r.pdbs) != 1 || len(r.ingresses) != 1 ||
		len(r.jobs) != 1 || len(r.monitors) != 1 || len(r.secrets) != 0 || len(r.pvcs) != 0 {
		t.Fatalf("objects: %d deployments, %d services, %d PDBs, %d ingresses, %d jobs, %d monitors, %d secrets, %d PVCs",
			len(r.deployments), len(r.services), len(r.pdbs), len(r.ingresses), len(r.jobs), len(r.monitors), len(r.secrets), len(r.pvcs))
	}
	d := r.deployments[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %s, want RollingUpdate", d.Spec.Strategy.Type)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v, want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want GET /readyz", c.ReadinessProbe)
	}
	e := env(c)
	for name, key := range map[string]string{"SSOBROKER_SECRET_KEY": "secret-key", "SSOBROKER_DATABASE_URL": "database-url", "SSOBROKER_REDIS_URL": "redis-url"} {
		ref := e[name].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "ssobroker-secrets" || ref.SecretKeyRef.Key != key {
			t.Errorf("%s = %+v, want secret ssobroker-secrets key %s", name, e[name], key)
		}
	}
	for name, want := range map[string]string{"SSOBROKER_ISSUER": "https://sso.example.com", "SSOBROKER_LOG_FORMAT": "json",
		"SSOBROKER_TRUSTED_PROXIES": "10.0.0.0/8", "SSOBROKER_MIGRATION_LOCK_TIMEOUT": "2m", "SSOBROKER_ADDR": ":8080"} {
		if e[name].Value != want {
			t.Errorf("%s = %q, want %q", name, e[name].Value, want)
		}
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container security context %+v, want a read-only root filesystem", sc)
	}
	pdb := r.pdbs[0]
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 ||
		pdb.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != "sso" {
		t.Errorf("PDB %+v", pdb.Spec)
	}
	job := r.jobs[0]
	if job.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
		t.Errorf("migration Job hook %q", job.Annotations["helm.sh/hook"])
	}
	jc := job.Spec.Template.Spec.Containers[0]
	if strings.Join(jc.Args, " ") != "migrate" || jc.Image != c.Image || env(jc)["SSOBROKER_DATABASE_URL"].ValueFrom == nil {
		t.Errorf("migration Job container %+v", jc)
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("migration Job restart policy %s", job.Spec.Template.Spec.RestartPolicy)
	}
	ing := r.ingresses[0]
	if ing.Spec.Rules[0].Host != "sso.example.com" || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != r.services[0].Name {
		t.Errorf("ingress %+v", ing.Spec)
	}
	m := r.monitors[0]
	if m.Metadata.Labels["release"] != "prometheus" || m.Spec.Endpoints[0].Path != "/metrics" || m.Spec.Endpoints[0].Port != "http" {
		t.Errorf("ServiceMonitor %+v", m)
	}
}

// Inline values: the chart makes the Secret (a hook that precedes the
// migration Job, so a first install can migrate) and points every
// reference at it.
func TestInlineSecretValues(t *testing.T) {
	r := mustRender(t, values(t, `
issuer: https://sso.example.com
secretKey: {value: "c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzLi4="}
database: {url: "postgres://sso:pw@db:5432/sso"}
redis: {url: "redis://a:6379,redis://b:6379,redis://c:6379"}
`))
	if len(r.secrets) != 1 {
		t.Fatalf("%d secrets, want 1", len(r.secrets))
	}
	s := r.secrets[0]
	if string(s.Data["redis-url"]) != "redis://a:6379,redis://b:6379,redis://c:6379" || string(s.Data["database-url"]) != "postgres://sso:pw@db:5432/sso" || len(s.Data["secret-key"]) == 0 {
		t.Errorf("secret data keys %v", s.Data)
	}
	if s.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" || s.Annotations["helm.sh/hook-weight"] != "-10" ||
		r.jobs[0].Annotations["helm.sh/hook-weight"] != "0" {
		t.Errorf("the Secret must be a hook weighted before the migration Job: %v, job %v", s.Annotations, r.jobs[0].Annotations)
	}
	ref := env(r.deployments[0].Spec.Template.Spec.Containers[0])["SSOBROKER_REDIS_URL"].ValueFrom.SecretKeyRef
	if ref.Name != s.Name {
		t.Errorf("SSOBROKER_REDIS_URL from %q, want the chart's secret %q", ref.Name, s.Name)
	}
}

// One replica on the embedded store: no PDB (it would block drains), no
// migration Job, Recreate, and a volume claim when persistence is on.
func TestSingleReplicaEmbedded(t *testing.T) {
	r := mustRender(t, values(t, `
replicaCount: 1
issuer: https://sso.example.com
secretKey: {existingSecret: keys}
persistence: {enabled: true}
`))
	if len(r.pdbs) != 0 || len(r.jobs) != 0 || len(r.pvcs) != 1 {
		t.Fatalf("%d PDBs, %d jobs, %d PVCs; want 0, 0, 1", len(r.pdbs), len(r.jobs), len(r.pvcs))
	}
	d := r.deployments[0]
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %s, want Recreate", d.Spec.Strategy.Type)
	}
	if v := d.Spec.Template.Spec.Volumes[0]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != r.pvcs[0].Name {
		t.Errorf("data volume %+v", v)
	}
	if !strings.Contains(r.notes, "In-process sessions") {
		t.Errorf("notes do not warn about in-process sessions:\n%s", r.notes)
	}
}

// Values that cannot work fail at render time, with a message.
func TestBadValuesFail(t *testing.T) {
	base := "issuer: https://sso.example.com\nsecretKey: {existingSecret: keys}\n"
	pg := "database: {existingSecret: db}\n"
	rd := "redis: {existingSecret: rd}\n"
	for _, c := range []struct {
		name, values, want string
	}{
		{"no secret key", "replicaCount: 1\nissuer: https://sso.example.com\n", "no secret key"},
		{"two secret key sources", "replicaCount: 1\nissuer: https://sso.example.com\nsecretKey: {existingSecret: k, value: v}\n", "not both"},
		{"replicas on the embedded store", "replicaCount: 2\n" + base + rd, "embedded SQLite store cannot be shared"},
		{"replicas without Redis", "replicaCount: 3\n" + base + pg, "there is no Redis"},
		{"no issuer", "replicaCount: 1\nsecretKey: {existingSecret: keys}\n", "issuer is required"},
		{"plain http issuer", "replicaCount: 1\nissuer: http://sso.example.com\nsecretKey: {existingSecret: keys}\n", "issuer"},
		{"log format", "replicaCount: 1\nlogFormat: xml\n" + base, "logFormat"},
		{"misspelt value", "replicas: 2\n" + base, "replicas"},
		{"database URL scheme", "replicaCount: 1\n" + base + "database: {url: 'mysql://x'}\n", "postgres://"},
		{"redis URL scheme", "replicaCount: 1\n" + base + "redis: {url: 'http://x'}\n", "redis.url"},
		{"lock timeout", "replicaCount: 1\nmigrationLockTimeout: soon\n" + base, "migrationLockTimeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(t, values(t, c.values))
			if err == nil {
				t.Fatalf("rendered; want a failure saying %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// The chart's defaults alone are refused (no issuer, no key), so nobody
// installs a broker with a key they never chose.
func TestDefaultsRefused(t *testing.T) {
	_, err := render(t, map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "issuer is required") {
		t.Fatalf("the chart's defaults alone: %v, want a refusal naming the issuer", err)
	}
}
