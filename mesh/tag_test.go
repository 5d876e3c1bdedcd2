package mesh

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNamesFollowIstioForAddonAndUpstreamNamespaces(t *testing.T) {
	tests := []struct{ got, want string }{
		{TagWebhookName("prod-stable", "aks-istio-system"), "istio-revision-tag-prod-stable-aks-istio-system"},
		{TagWebhookName("prod-stable", "istio-system"), "istio-revision-tag-prod-stable"},
		{InjectorWebhookName("asm-1-29", "aks-istio-system"), "istio-sidecar-injector-asm-1-29-aks-istio-system"},
		{InjectorWebhookName("1-29-0", "istio-system"), "istio-sidecar-injector-1-29-0"},
		{TagServiceName("prod-stable"), "istiod-revision-tag-prod-stable"},
		{IstiodName("asm-1-28"), "istiod-asm-1-28"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestTagTargetReadsLabelThenServiceName(t *testing.T) {
	svc := func(name string) admissionregistrationv1.MutatingWebhook {
		return admissionregistrationv1.MutatingWebhook{ClientConfig: admissionregistrationv1.WebhookClientConfig{
			Service: &admissionregistrationv1.ServiceReference{Name: name, Namespace: "aks-istio-system"},
		}}
	}
	tests := []struct {
		name   string
		wh     admissionregistrationv1.MutatingWebhookConfiguration
		want   string
		wantOK bool
	}{
		{"istioctl labels the revision", admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{TagLabel: "prod-stable", RevisionLabel: "asm-1-28"}},
			Webhooks:   []admissionregistrationv1.MutatingWebhook{svc("istiod-asm-1-28")},
		}, "asm-1-28", true},
		{"no label: the service it calls", admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{TagLabel: "prod-stable"}},
			Webhooks:   []admissionregistrationv1.MutatingWebhook{svc("istiod-asm-1-29")},
		}, "asm-1-29", true},
		{"the tag's own service says nothing of the revision", admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{TagLabel: "prod-stable"}},
			Webhooks:   []admissionregistrationv1.MutatingWebhook{svc("istiod-revision-tag-prod-stable")},
		}, "", false},
		{"url client config and no label", admissionregistrationv1.MutatingWebhookConfiguration{
			Webhooks: []admissionregistrationv1.MutatingWebhook{{}},
		}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := TagTarget(&tt.wh)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("TagTarget() = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCheckTagNameRefusesEmptyAndRevisionNames(t *testing.T) {
	revs := []string{"asm-1-28", "asm-1-29"}
	for tag, wantErr := range map[string]bool{"prod-stable": false, "": true, "asm-1-29": true} {
		if err := CheckTagName(tag, revs); (err != nil) != wantErr {
			t.Errorf("CheckTagName(%q) = %v, want error %v", tag, err, wantErr)
		}
	}
}
