package web

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fanfarehq/fanfare/internal/eligibility"
)

// The reference reads the document generically: any schema names, $refs,
// nullable arrays and problem codes declared in x- lists or a code enum.
func TestParseAPIDoc(t *testing.T) {
	t.Parallel()
	doc, err := parseAPIDoc([]byte(`{
	  "openapi": "3.1.0",
	  "info": {"title": "Any API", "version": "9"},
	  "servers": [{"url": "https://example.test"}],
	  "tags": [{"name": "things", "description": "All the things"}],
	  "paths": {
	    "/v1/things/{id}": {
	      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
	      "post": {
	        "operationId": "makeThing", "summary": "Make a thing", "tags": ["things"],
	        "security": [{"session": []}],
	        "parameters": [{"$ref": "#/components/parameters/Key"}],
	        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingIn"}}}},
	        "responses": {
	          "201": {"description": "Made", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing_Out"}}}},
	          "409": {"description": "Refused", "x-problem-codes": ["insufficient_funds", "wallet_frozen"],
	            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
	        }
	      }
	    },
	    "/healthz": {"get": {"summary": "Alive", "responses": {"200": {"description": "OK"}}}}
	  },
	  "components": {
	    "parameters": {"Key": {"name": "Idempotency-Key", "in": "header", "required": true, "schema": {"type": "string", "maxLength": 64}}},
	    "schemas": {
	      "ThingIn": {"type": "object", "required": ["count"], "properties": {
	        "count": {"type": "integer", "format": "int64", "description": "How many"},
	        "kind": {"type": "string", "enum": ["a", "b"]}}},
	      "Thing_Out": {"type": "object", "properties": {
	        "items": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/ThingIn"}},
	        "note": {"type": ["string", "null"]}}},
	      "Problem": {"type": "object", "properties": {"code": {"type": "string", "enum": ["not_found"]}}}
	    }
	  }
	}`))
	require.NoError(t, err)
	require.Equal(t, "Any API", doc.Title)
	require.Equal(t, []string{"https://example.test"}, doc.Servers)
	require.Len(t, doc.Tags, 2)
	things := doc.Tags[0]
	require.Equal(t, "things", things.Name)
	require.Equal(t, "All the things", things.Description)
	require.Equal(t, "other", doc.Tags[1].Name, "an operation without a tag")

	op := things.Ops[0]
	require.Equal(t, "POST", op.Method)
	require.Equal(t, "/v1/things/{id}", op.Path)
	require.Equal(t, "op-makeThing", op.Anchor)
	require.Equal(t, []string{"session"}, op.Security)
	require.Equal(t, []apiParam{
		{Name: "id", In: "path", Type: "string", Required: true},
		{Name: "Idempotency-Key", In: "header", Type: "string", Required: true},
	}, op.Params)
	require.True(t, op.Body.Required)
	require.Equal(t, "ThingIn", op.Body.Shape.Type)
	require.Equal(t, "schema-ThingIn", op.Body.Shape.Ref)
	require.Equal(t, []apiField{
		{Name: "count", Type: "integer (int64)", Description: "How many", Required: true},
		{Name: "kind", Type: "string, one of a, b"},
	}, op.Body.Shape.Fields)

	require.Len(t, op.Responses, 2)
	made := op.Responses[0]
	require.Equal(t, "201", made.Status)
	require.Equal(t, []apiField{
		{Name: "items", Type: "array of ThingIn or null", Ref: "schema-ThingIn"},
		{Name: "note", Type: "string or null"},
	}, made.Shape.Fields)
	refused := op.Responses[1]
	require.Equal(t, []string{"insufficient_funds", "wallet_frozen", "not_found"}, refused.Codes)
	require.Equal(t, []string{"insufficient_funds", "not_found", "wallet_frozen"}, doc.Codes)

	var names []string
	for _, s := range doc.Schemas {
		names = append(names, s.Name)
	}
	require.Equal(t, []string{"Problem", "ThingIn", "Thing_Out"}, names)

	_, err = parseAPIDoc([]byte(`not json`))
	require.Error(t, err)
}

func TestCanQualify(t *testing.T) {
	t.Parallel()
	list := func(missed ...string) eligibility.FeatureChecklist {
		c := eligibility.FeatureChecklist{Checks: []eligibility.Check{{Code: eligibility.ROff, Met: true}}}
		for _, m := range missed {
			c.Checks = append(c.Checks, eligibility.Check{Code: m})
		}
		return c
	}
	require.True(t, canQualify(list()))
	require.True(t, canQualify(list(eligibility.RFollowers)), "followers can grow")
	require.True(t, canQualify(list(eligibility.RFollowers, eligibility.RStanding)), "a standing may be lifted")
	for _, fixed := range []string{eligibility.RAge, eligibility.RAccountType, eligibility.RCreatorRegion, eligibility.ROffInRegion, eligibility.ROff} {
		require.False(t, canQualify(list(eligibility.RFollowers, fixed)), fixed)
	}
}
