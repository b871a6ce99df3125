package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// OutsideRoutes are the documented routes served outside this package: the
// access guard's sign-in routes and /metrics (internal/app checks that the
// service serves them).
var outsideRoutes = []string{"POST /api/auth/login", "POST /api/auth/logout", "GET /api/auth/session", "GET /metrics"}

// openAPIDoc is the embedded document, decoded.
type openAPIDoc struct {
	raw     map[string]any
	schemas map[string]any
}

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(OpenAPI()))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	comps, _ := raw["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	return &openAPIDoc{raw: raw, schemas: schemas}
}

// operations are the documented operations as ServeMux patterns.
func (d *openAPIDoc) operations() map[string]map[string]any {
	out := map[string]map[string]any{}
	for path, item := range d.raw["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			out[strings.ToUpper(method)+" "+path] = op.(map[string]any)
		}
	}
	return out
}

// resolve follows a local $ref ("#/components/...").
func (d *openAPIDoc) resolve(ref string) (map[string]any, error) {
	var cur any = d.raw
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %s does not resolve", ref)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %s does not resolve", ref)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %s is not an object", ref)
	}
	return m, nil
}

// schemaKeywords are the JSON Schema keywords validate understands. The
// document may use no other, so nothing in it goes unchecked.
var schemaKeywords = []string{"$ref", "type", "properties", "required", "additionalProperties", "items", "enum", "anyOf",
	"minimum", "maximum", "maxLength", "description", "format", "contentMediaType"}

// validate checks v against schema and returns every problem, each with
// where it is (at).
func (d *openAPIDoc) validate(schema map[string]any, v any, at string) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, at+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := schema["$ref"].(string); ok {
		target, err := d.resolve(ref)
		if err != nil {
			return append(problems, at+": "+err.Error())
		}
		return append(problems, d.validate(target, v, at)...)
	}
	if anyOf, ok := schema["anyOf"].([]any); ok {
		for _, alt := range anyOf {
			if len(d.validate(alt.(map[string]any), v, at)) == 0 {
				return problems
			}
		}
		return append(problems, fmt.Sprintf("%s: %v matches no alternative of anyOf", at, short(v)))
	}
	if types := typesOf(schema["type"]); len(types) > 0 && !slices.Contains(types, jsonType(v)) &&
		!(jsonType(v) == "integer" && slices.Contains(types, "number")) {
		return append(problems, fmt.Sprintf("%s: %v is %s, want %s", at, short(v), jsonType(v), strings.Join(types, " or ")))
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		fail("%v is not one of %v", short(v), enum)
	}
	if n, ok := v.(json.Number); ok {
		f, _ := n.Float64()
		if lo, ok := schema["minimum"].(json.Number); ok && f < must(lo.Float64()) {
			fail("%v is below the minimum %v", n, lo)
		}
		if hi, ok := schema["maximum"].(json.Number); ok && f > must(hi.Float64()) {
			fail("%v is above the maximum %v", n, hi)
		}
	}
	switch v := v.(type) {
	case string:
		if n, ok := schema["maxLength"].(json.Number); ok && int64(len([]rune(v))) > must(n.Int64()) {
			fail("longer than %v", n)
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range v {
				problems = append(problems, d.validate(items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := v[r]; !ok {
				fail("required member %q is missing", r)
			}
		}
		for k, e := range v {
			if p, ok := props[k].(map[string]any); ok {
				problems = append(problems, d.validate(p, e, at+"."+k)...)
				continue
			}
			switch extra := schema["additionalProperties"].(type) {
			case bool:
				if !extra {
					fail("member %q is not documented", k)
				}
			case map[string]any:
				problems = append(problems, d.validate(extra, e, at+"."+k)...)
			}
		}
	}
	return problems
}

func must[T any](v T, _ error) T { return v }

func typesOf(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		return asStrings(t)
	}
	return nil
}

func asStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		out = append(out, e.(string))
	}
	return out
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// walkSchemas calls fn with every schema object of the document (component
// schemas, parameters, request and response bodies).
func (d *openAPIDoc) walkSchemas(fn func(where string, schema map[string]any)) {
	for name, s := range d.schemas {
		fn("components.schemas."+name, s.(map[string]any))
	}
	content := func(where string, c any) {
		m, _ := c.(map[string]any)
		for mt, media := range m {
			if s, ok := media.(map[string]any)["schema"].(map[string]any); ok {
				fn(where+" "+mt, s)
			}
		}
	}
	for pattern, op := range d.operations() {
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			fn(pattern+" parameter", p.(map[string]any)["schema"].(map[string]any))
		}
		if b, ok := op["requestBody"].(map[string]any); ok {
			content(pattern+" body", b["content"])
		}
		for status, r := range op["responses"].(map[string]any) {
			content(pattern+" "+status, r.(map[string]any)["content"])
		}
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// Issue 13 item 4: the document describes every route the router serves,
// serves every route it describes, with the same path parameters.
func TestOpenAPIMatchesTheRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.raw["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc.raw["openapi"])
	}
	served := slices.DeleteFunc(Routes(), func(p string) bool { return p == "/api/" }) // the catch-all 404
	served = append(served, outsideRoutes...)
	ops := doc.operations()
	documented := make([]string, 0, len(ops))
	for p := range ops {
		documented = append(documented, p)
	}
	sort.Strings(served)
	sort.Strings(documented)
	for _, p := range served {
		if _, ok := ops[p]; !ok {
			t.Errorf("route %s is not in openapi.json", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("openapi.json documents %s, which no route serves", p)
		}
	}
	for pattern, op := range ops {
		var inPath []string
		for _, m := range pathParam.FindAllStringSubmatch(pattern, -1) {
			inPath = append(inPath, m[1])
		}
		var declared []string
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			p := p.(map[string]any)
			if p["in"] == "path" {
				declared = append(declared, p["name"].(string))
			}
		}
		sort.Strings(inPath)
		sort.Strings(declared)
		if !slices.Equal(inPath, declared) {
			t.Errorf("%s declares path parameters %v, its path has %v", pattern, declared, inPath)
		}
		ok := false
		for status := range op["responses"].(map[string]any) {
			ok = ok || strings.HasPrefix(status, "2")
		}
		if !ok || op["summary"] == "" || op["operationId"] == "" {
			t.Errorf("%s has no 2xx response, summary or operationId", pattern)
		}
	}
	// Every schema uses only what validate checks, and its $refs resolve.
	doc.walkSchemas(func(where string, s map[string]any) {
		for _, p := range doc.lint(s, where) {
			t.Error(p)
		}
	})
}

// lint reports keywords validate does not check and $refs that do not
// resolve, in schema and every schema inside it.
func (d *openAPIDoc) lint(schema map[string]any, at string) []string {
	var problems []string
	for k, v := range schema {
		if !slices.Contains(schemaKeywords, k) {
			problems = append(problems, fmt.Sprintf("%s: schema keyword %q is not checked by this test: use another or teach validate", at, k))
		}
		switch k {
		case "$ref":
			if _, err := d.resolve(v.(string)); err != nil {
				problems = append(problems, at+": "+err.Error())
			}
		case "properties":
			for name, p := range v.(map[string]any) {
				problems = append(problems, d.lint(p.(map[string]any), at+"."+name)...)
			}
		case "items", "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				problems = append(problems, d.lint(m, at+"."+k)...)
			}
		case "anyOf":
			for i, alt := range v.([]any) {
				problems = append(problems, d.lint(alt.(map[string]any), fmt.Sprintf("%s.anyOf[%d]", at, i))...)
			}
		}
	}
	return problems
}

// checkedClient sends requests to the API and checks every answer against
// the document: its status is documented for the operation, and a JSON
// body matches the status's schema.
type checkedClient struct {
	*client
	doc       *openAPIDoc
	ops       map[string]map[string]any
	router    *http.ServeMux
	exercised map[string]bool
}

func newCheckedClient(t *testing.T, c *client) *checkedClient {
	doc := loadOpenAPI(t)
	router := http.NewServeMux()
	for _, p := range Routes() {
		router.Handle(p, http.NotFoundHandler())
	}
	return &checkedClient{client: c, doc: doc, ops: doc.operations(), router: router, exercised: map[string]bool{}}
}

// call sends body (JSON, or raw with contentType) and returns the status
// and the decoded JSON answer (nil for other types).
func (c *checkedClient) call(method, path, contentType string, body string) (int, any) {
	c.t.Helper()
	if contentType == "" && body != "" {
		contentType = "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	_, pattern := c.router.Handler(req)
	op, ok := c.ops[pattern]
	if !ok {
		c.t.Fatalf("%s %s matched %q, which openapi.json does not document", method, path, pattern)
	}
	c.exercised[pattern] = true
	r, ok := op["responses"].(map[string]any)[strconv.Itoa(resp.StatusCode)].(map[string]any)
	if !ok {
		c.t.Errorf("%s %s (%s) answered %d, which openapi.json does not list: %.300s", method, path, pattern, resp.StatusCode, raw)
		return resp.StatusCode, nil
	}
	if ref, ok := r["$ref"].(string); ok {
		r, _ = c.doc.resolve(ref)
	}
	if resp.StatusCode < 300 && contentType == "application/json" {
		// A JSON body the API took must be one the document describes.
		rb, _ := op["requestBody"].(map[string]any)
		schema := jsonSchemaOf(rb["content"])
		if schema == nil {
			c.t.Errorf("%s took a JSON body, but openapi.json documents none", pattern)
		}
		for _, p := range c.doc.validate(schema, decodeNumbers(c.t, []byte(body)), pattern+" request body") {
			c.t.Error(p)
		}
	}
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	content, _ := r["content"].(map[string]any)
	if _, ok := content[ct]; !ok {
		c.t.Errorf("%s %s (%s) %d: Content-Type %q is not documented", method, path, pattern, resp.StatusCode, ct)
		return resp.StatusCode, nil
	}
	if ct != "application/json" {
		return resp.StatusCode, nil
	}
	v := decodeNumbers(c.t, raw)
	schema := jsonSchemaOf(content)
	if schema == nil {
		c.t.Errorf("%s %d: no JSON schema documented", pattern, resp.StatusCode)
	}
	for _, p := range c.doc.validate(schema, v, fmt.Sprintf("%s %d", pattern, resp.StatusCode)) {
		c.t.Error(p)
	}
	return resp.StatusCode, v
}

// jsonSchemaOf is the application/json schema of a content map, or nil.
func jsonSchemaOf(content any) map[string]any {
	c, _ := content.(map[string]any)
	media, _ := c["application/json"].(map[string]any)
	schema, _ := media["schema"].(map[string]any)
	return schema
}

// decodeNumbers decodes JSON keeping numbers as json.Number, so integers
// can be told from other numbers.
func decodeNumbers(t *testing.T, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %.300s", err, raw)
	}
	return v
}

// expect is call that also checks the status and returns an object answer.
func (c *checkedClient) expect(status int, method, path, body string) map[string]any {
	c.t.Helper()
	got, v := c.call(method, path, "", body)
	if got != status {
		c.t.Fatalf("%s %s: %d, want %d: %v", method, path, got, status, v)
	}
	m, _ := v.(map[string]any)
	return m
}

// The main payloads (transmission, output, settings, camera, pipeline,
// processing server, runtime, errors) as the API really answers them match
// the document, and so does every status they answer with.
func TestOpenAPIDescribesTheAnswers(t *testing.T) {
	c := newCheckedClient(t, newServer(t, "local"))
	c.expect(200, "GET", "/health", "")
	c.expect(200, "GET", "/openapi.json", "")
	c.expect(200, "GET", "/../openapi.json", "")
	c.expect(200, "GET", "/settings", "")
	c.expect(200, "PATCH", "/settings", `{"runtime":{"sticky_seconds":0},"engine":{"reader_hold_seconds":5}}`)
	c.expect(422, "PATCH", "/settings", `{"runtime":{"max_writers":"many"}}`)
	c.expect(400, "PATCH", "/settings", `{"runtime":`)
	c.expect(200, "GET", "/engine/status", "")
	c.expect(200, "POST", "/engine/download", "")

	tx := c.expect(200, "POST", "/transmissions", `{"name":"Yard","path":"yard","outputs":[
		{"id":"rtsp","protocol":"rtsp","resolution":{"width":640,"height":360},"fps_limit":10,"authentication":{"enabled":true,"username":"v","password":"secret"}},
		{"id":"hls","protocol":"hls","path":"yard-web"}]}`)
	id := tx["id"].(string)
	c.expect(422, "POST", "/transmissions", `{"name":"x"}`)
	c.expect(409, "POST", "/transmissions", `{"name":"Again","path":"yard"}`)
	c.expect(200, "GET", "/transmissions", "")
	c.expect(200, "GET", "/transmissions?include_secrets=true", "")
	c.expect(200, "GET", "/transmissions/"+id, "")
	c.expect(404, "GET", "/transmissions/nope", "")
	c.expect(200, "PUT", "/transmissions/"+id, `{"name":"Yard","path":"yard","extra_tag":"kept","outputs":[{"id":"rtsp","protocol":"rtsp"},{"id":"hls","protocol":"hls"}]}`)
	c.expect(200, "GET", "/transmissions/"+id+"/urls", "")
	c.expect(200, "POST", "/transmissions/"+id+"/urls/preview", `{"name":"Yard","path":"yard","outputs":[{"id":"rtsp","protocol":"rtsp","path":"yard"},{"id":"hls","protocol":"hls"},{"id":"webrtc","protocol":"webrtc"}]}`)
	c.expect(409, "POST", "/transmissions/"+id+"/urls/preview", `{"name":"Yard","path":"yard","outputs":[{"id":"hls","protocol":"hls"},{"id":"hls","protocol":"rtsp"}]}`)
	c.expect(400, "POST", "/transmissions", `{"name":"n","path":"n","host_server_id":"mars"}`)
	c.expect(200, "GET", "/transmissions/"+id+"/demand", "")
	c.expect(200, "POST", "/transmissions/"+id+"/demand/prime", "")
	c.expect(200, "GET", "/internal/transmissions/"+id+"/urls", "")
	if status, _ := c.call("PUT", "/transmissions/"+id+"/writers/cam/frame?width=2&height=2", "application/octet-stream", string(make([]byte, 12))); status != 202 {
		t.Errorf("frame: %d", status)
	}
	if status, _ := c.call("PUT", "/transmissions/"+id+"/writers/cam/frame?width=2&height=2", "application/octet-stream", "short"); status != 400 {
		t.Errorf("short frame: %d", status)
	}
	if status, _ := c.call("POST", "/transmissions/"+id+"/writers/s/stream?width=2&height=2", "application/octet-stream", streamBody(make([]byte, 12)).String()); status != 200 {
		t.Errorf("stream: %d", status)
	}
	if status, _ := c.call("GET", "/transmissions/"+id+"/snapshot?output=rtsp", "", ""); status != 200 {
		t.Errorf("snapshot: %d", status)
	}
	c.expect(400, "GET", "/transmissions/"+id+"/snapshot?width=1", "")
	c.expect(202, "DELETE", "/transmissions/"+id+"/writers/cam", "")
	c.expect(200, "GET", "/runtime/outputs", "")
	c.expect(200, "GET", "/runtime/diagnostics", "")

	c.expect(200, "POST", "/../cameras", `{"name":"Front","url":"testsrc","username":"u","password":"p","fps":5}`)
	c.expect(422, "POST", "/../cameras", `{"name":"x"}`)
	c.expect(200, "GET", "/../cameras", "")
	c.expect(200, "GET", "/../cameras/front", "")
	c.expect(200, "PUT", "/../cameras/front", `{"name":"Front","url":"testsrc"}`)
	wiz := c.expect(200, "POST", "/wizard/create-pipeline", fmt.Sprintf(`{"transmission_id":%q,"camera_id":"front","preset_id":"simple_stream","optional_parameters":{"enabled":false}}`, id))
	name := wiz["pipeline_name"].(string)
	c.expect(409, "DELETE", "/../cameras/front", "")
	c.expect(200, "GET", "/../pipelines", "")
	c.expect(200, "GET", "/../pipelines/"+name, "")
	c.expect(200, "GET", "/../pipelines/"+name+"/status", "")
	c.expect(200, "POST", "/../pipelines", fmt.Sprintf(`{"name":"second","enabled":false,"graph":{"nodes":[{"id":"s","type":"camera.source","config":{"camera_id":"front"}},{"id":"p","type":"stream.publish_video","config":{"transmission_id":%q}}],"edges":[{"from":{"node":"s","port":"out"},"to":{"node":"p","port":"in"}}]}}`, id))
	c.expect(200, "DELETE", "/../pipelines/second", "")
	c.expect(200, "DELETE", "/../pipelines/"+name, "")
	c.expect(404, "GET", "/../pipelines/"+name, "")
	c.expect(200, "DELETE", "/../cameras/front", "")

	c.expect(200, "POST", "/../processing-servers", `{"id":"edge-1","name":"Edge","url":"http://127.0.0.1:1","username":"u","password":"p"}`)
	c.expect(200, "GET", "/../processing-servers", "")
	c.expect(200, "GET", "/../processing-servers/edge-1", "")
	c.expect(200, "PUT", "/../processing-servers/edge-1", `{"id":"edge-1","name":"Edge one","url":"http://127.0.0.1:1"}`)
	c.expect(200, "GET", "/distributed/settings/edge-1", "")
	c.expect(400, "GET", "/distributed/settings/mars", "")
	c.expect(200, "DELETE", "/../processing-servers/edge-1", "")
	c.expect(200, "DELETE", "/transmissions/"+id, "")

	// The payloads the issue names were all checked.
	for _, p := range []string{"GET /api/streams/transmissions/{id}", "POST /api/streams/transmissions", "GET /api/streams/settings",
		"GET /api/cameras/{id}", "GET /api/pipelines/{name}", "GET /api/streams/runtime/outputs", "GET /api/streams/engine/status"} {
		if !c.exercised[p] {
			t.Errorf("%s was not exercised", p)
		}
	}
}

// The document is served as JSON at both of its paths.
func TestOpenAPIIsServed(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{}))
	defer srv.Close()
	for _, p := range OpenAPIPaths {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, OpenAPI()) {
			t.Errorf("GET %s: %d %q, %d bytes", p, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
}
