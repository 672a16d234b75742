// Package server is the HTTP face of `sluice run`: a JSON API over the
// supervisor's pipelines (status, pause, resume, restart, snapshot, a
// server-sent-events tail of delivered changes, reload), Prometheus
// metrics on /metrics, liveness and readiness, and the web dashboard,
// whose files are embedded in the binary.
//
// Every endpoint but /healthz and the dashboard's static files (which
// hold no data; the page asks for the token and sends it with each call)
// requires the bearer token: `Authorization: Bearer TOKEN`. The token is
// compared in constant time and never logged. docs/api.yaml describes the
// API; a test checks it against Routes.
package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/supervisor"
)

//go:embed ui
var uiFiles embed.FS

// Options configure a Server.
type Options struct {
	// Supervisor runs the pipelines the API shows and controls.
	Supervisor *supervisor.Supervisor
	// Token is the bearer token every request but /healthz and the
	// dashboard's files must carry. Required.
	Token string
	// Reload re-reads the config file and applies it (POST /api/reload);
	// nil: the endpoint answers 501.
	Reload func() (supervisor.Changes, error)
	// Logger receives one line per request (method, path, status, time;
	// never a header) at debug level, and refused requests at warn.
	Logger *slog.Logger
	// HistoryInterval and HistoryLength shape the throughput history the
	// dashboard charts: a sample every HistoryInterval (default 2s),
	// HistoryLength samples kept (default 150: five minutes).
	HistoryInterval time.Duration
	HistoryLength   int
}

// Server serves the API. Create it with New, serve it with Serve or use
// its Handler, and Close it to stop its sampler.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	history *history
	routes  []Route
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Route is one endpoint: a method and a path pattern as docs/api.yaml
// writes it.
type Route struct {
	Method, Path string
	// Public routes need no token.
	Public bool
}

// New returns a Server for opts.
func New(opts Options) (*Server, error) {
	if opts.Supervisor == nil {
		return nil, errors.New("server: no supervisor")
	}
	if opts.Token == "" {
		return nil, errors.New("server: no bearer token: the API must not be open")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HistoryInterval <= 0 {
		opts.HistoryInterval = 2 * time.Second
	}
	if opts.HistoryLength <= 0 {
		opts.HistoryLength = 150
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux(), stop: make(chan struct{})}
	s.history = newHistory(opts.HistoryLength)
	s.routeAll()
	s.wg.Add(1)
	go s.sample()
	return s, nil
}

func (s *Server) routeAll() {
	s.handle("GET", "/healthz", true, s.healthz)
	s.handle("GET", "/readyz", false, s.readyz)
	s.handle("GET", "/metrics", false, s.opts.Supervisor.Metrics().Handler().ServeHTTP)
	s.handle("GET", "/api/pipelines", false, s.list)
	s.handle("GET", "/api/pipelines/{name}", false, s.get)
	s.handle("POST", "/api/pipelines/{name}/pause", false, s.control(s.opts.Supervisor.Pause))
	s.handle("POST", "/api/pipelines/{name}/resume", false, s.control(s.opts.Supervisor.Resume))
	s.handle("POST", "/api/pipelines/{name}/restart", false, s.control(s.opts.Supervisor.Restart))
	s.handle("POST", "/api/pipelines/{name}/snapshot", false, s.snapshot)
	s.handle("GET", "/api/pipelines/{name}/tail", false, s.tail)
	s.handle("POST", "/api/reload", false, s.reload)
	ui, _ := fs.Sub(uiFiles, "ui")
	files := http.FileServerFS(ui)
	s.handle("GET", "/", true, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// Routes returns every endpoint the server answers.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

func (s *Server) handle(method, path string, public bool, h http.HandlerFunc) {
	s.routes = append(s.routes, Route{Method: method, Path: path, Public: public})
	pattern := method + " " + path
	if path == "/" {
		pattern = method + " /"
	}
	if !public {
		h = s.authorized(h)
	}
	s.mux.Handle(pattern, h)
}

// Handler returns the server's handler, with request logging.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		s.mux.ServeHTTP(sw, r)
		level := slog.LevelDebug
		if sw.status == http.StatusUnauthorized || sw.status >= 500 {
			level = slog.LevelWarn
		}
		// r.URL.Path, not the URL: a query might carry anything.
		s.log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"remote", r.RemoteAddr, "elapsed", time.Since(began).Round(time.Microsecond))
	})
}

// authorized wraps h with the bearer token check.
func (s *Server) authorized(h http.HandlerFunc) http.HandlerFunc {
	want := []byte("Bearer " + s.opts.Token)
	return func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

// Serve serves on ln until ctx ends, then shuts down (waiting up to 5 s
// for requests in flight; tails end at once). With tlsConfig it serves
// HTTPS.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig,
		BaseContext: func(net.Listener) context.Context { return ctx }, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	return err
}

// LoadTLS reads a certificate and key pair for Serve.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Close stops the throughput sampler.
func (s *Server) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

func (s *Server) sample() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.HistoryInterval)
	defer t.Stop()
	s.history.add(s.opts.Supervisor.List(), time.Now())
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.history.add(s.opts.Supervisor.List(), now)
		}
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets the tail stream through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
