package webhooks_test

import (
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/viza-app/viza/bot/api"
)

// conformsToSpec checks every body the receiver got against the Event
// schema openapi.yaml declares for the webhooks.
func conformsToSpec(t *testing.T, rc *receiver) {
	t.Helper()
	spec, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	proxy, ok := model.Model.Components.Schemas.Get("Event")
	if !ok {
		t.Fatal("openapi.yaml declares no Event schema")
	}
	if _, ok := model.Model.Webhooks.Get("version.added"); !ok {
		t.Fatal("openapi.yaml declares no version.added webhook")
	}
	schema := proxy.Schema()
	v := schema_validation.NewSchemaValidator()
	if ok, _ := v.ValidateSchemaBytes(schema, []byte(`{"type":"version.added","timestamp":"2026-12-01T00:00:00Z","data":{"event_id":1}}`)); ok {
		t.Error("the Event schema passes an event without its document")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.raw) == 0 {
		t.Fatal("no event to check")
	}
	for _, body := range rc.raw {
		if ok, errs := v.ValidateSchemaBytes(schema, body); !ok {
			for _, e := range errs {
				t.Errorf("%s: %s (%s)", body, e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("  %s", se.Reason)
				}
			}
		}
	}
}
