package access

import (
	_ "embed"
	"html/template"
	"net/http"
)

//go:embed login.html
var loginHTML string

var loginPage = template.Must(template.New("login").Parse(loginHTML))

// serveLoginPage answers a UI route without credentials: 401 with a page
// that signs in through LoginPath and reloads.
func serveLoginPage(w http.ResponseWriter, basic, token bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_ = loginPage.Execute(w, struct{ Basic, Token bool }{basic, token})
}
