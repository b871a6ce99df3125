package mediamtx

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
)

// STUNGatherTimeout is how long MediaMTX waits for a STUN server's answer
// before it answers a WHEP offer without that server-reflexive candidate
// (a TURN allocation still takes up to about 8 s: MediaMTX has no setting
// for it). Reachable STUN servers answer within a few hundred ms.
const STUNGatherTimeout = 500 * time.Millisecond

// HLS segment and part durations (see Config.HLSSegmentDuration).
const (
	HLSSegmentDuration = 200 * time.Millisecond
	HLSPartDuration    = 200 * time.Millisecond
)

// HLSVariant is MediaMTX's hlsVariant for v: our names are its own, and
// "" is mpegts (MediaMTX's own default would be lowLatency).
func HLSVariant(v model.HLSVariant) string {
	if v == "" {
		return string(model.HLSMPEGTS)
	}
	return string(v)
}

// Defaults of an on-demand path's hook timing.
const (
	DefaultOnDemandStartTimeout = 10 * time.Second
	DefaultOnDemandCloseAfter   = 3 * time.Second
)

// loopback are the addresses that may publish and use the control API.
var loopback = []string{"127.0.0.1", "::1"}

// ConfigInput is what one MediaMTX instance is made for.
type ConfigInput struct {
	BindHost string      // 127.0.0.1, or 0.0.0.0 when exposed to the LAN; the API stays on loopback
	Ports    model.Ports // Ports.RTP: RTSP over UDP's RTP port (even); RTCP is the next one
	Paths    []PathInput

	// ICEServers are STUN/TURN URLs; "turn:user:pass@host:port" carries
	// credentials, as the embedded engine accepts them.
	ICEServers            []string
	WebRTCAdditionalHosts []string
	// WebRTCLocalUDPAddress "" means a random port (":0"), as on the
	// embedded engine; MediaMTX itself would disable UDP.
	WebRTCLocalUDPAddress string
	WebRTCLocalTCPAddress string // "" disables ICE over TCP

	// TLSCertFile and TLSKeyFile (absolute PEM paths), when set, make
	// MediaMTX serve RTSPS instead of RTSP on the RTSP port (SRTP on the
	// RTP pair) and HTTPS on the HLS and WebRTC ports.
	TLSCertFile, TLSKeyFile string

	// Hook is the argv MediaMTX runs for an on-demand path (with MTX_PATH
	// in its environment). It must not carry secrets: the command line is
	// visible to every local user.
	Hook []string

	ReadTimeout, WriteTimeout time.Duration // 0 keeps MediaMTX's 10s

	HLSVariant model.HLSVariant // "" is mpegts, the spec's default
}

// PathInput is one engine path and how it is fed.
type PathInput struct {
	engine.Path
	// OnDemand runs ConfigInput.Hook when the first reader arrives and
	// nobody publishes; MediaMTX holds the reader up to StartTimeout and
	// stops the hook CloseAfter the last reader left (0: the defaults).
	OnDemand     bool
	StartTimeout time.Duration
	CloseAfter   time.Duration
}

// Config is the part of MediaMTX v1.20.1's configuration we set. Unknown
// keys are fatal to MediaMTX, so every name here is one of its own.
type Config struct {
	LogLevel        string   `yaml:"logLevel"`
	LogDestinations []string `yaml:"logDestinations"`
	ReadTimeout     Duration `yaml:"readTimeout,omitempty"`
	WriteTimeout    Duration `yaml:"writeTimeout,omitempty"`

	AuthMethod        string     `yaml:"authMethod"`
	AuthInternalUsers []AuthUser `yaml:"authInternalUsers"`

	API             bool     `yaml:"api"`
	APIAddress      string   `yaml:"apiAddress"`
	APIAllowOrigins []string `yaml:"apiAllowOrigins"`
	Metrics         bool     `yaml:"metrics"`
	PPROF           bool     `yaml:"pprof"`
	Playback        bool     `yaml:"playback"`

	RTSP           bool     `yaml:"rtsp"`
	RTSPTransports []string `yaml:"rtspTransports"`
	RTSPAddress    string   `yaml:"rtspAddress"`
	RTPAddress     string   `yaml:"rtpAddress"`
	RTCPAddress    string   `yaml:"rtcpAddress"`
	// With rtspEncryption "strict" MediaMTX opens only the RTSPS listener
	// and the SRTP pair; rtspAddress, rtpAddress and rtcpAddress go unused.
	RTSPEncryption string `yaml:"rtspEncryption,omitempty"`
	RTSPSAddress   string `yaml:"rtspsAddress,omitempty"`
	SRTPAddress    string `yaml:"srtpAddress,omitempty"`
	SRTCPAddress   string `yaml:"srtcpAddress,omitempty"`
	RTSPServerKey  string `yaml:"rtspServerKey,omitempty"`
	RTSPServerCert string `yaml:"rtspServerCert,omitempty"`

	RTMP bool `yaml:"rtmp"`
	SRT  bool `yaml:"srt"`
	MoQ  bool `yaml:"moq"`

	HLS             bool     `yaml:"hls"`
	HLSAddress      string   `yaml:"hlsAddress"`
	HLSAllowOrigins []string `yaml:"hlsAllowOrigins"`
	HLSVariant      string   `yaml:"hlsVariant"`
	// Segments end on an IDR at least HLSSegmentDuration after they began:
	// with the encoders' one-second GOP one GOP, except the first, which
	// ends at the extra IDR the encoders make 0.2 s in (MediaMTX's default
	// of 1 s would make it 1.2 s). Low-Latency HLS parts end at any frame
	// HLSPartDuration after theirs (MediaMTX's default).
	HLSSegmentDuration Duration `yaml:"hlsSegmentDuration"`
	HLSPartDuration    Duration `yaml:"hlsPartDuration"`
	HLSAlwaysRemux     bool     `yaml:"hlsAlwaysRemux"`
	HLSEncryption      bool     `yaml:"hlsEncryption,omitempty"`
	HLSServerKey       string   `yaml:"hlsServerKey,omitempty"`
	HLSServerCert      string   `yaml:"hlsServerCert,omitempty"`

	WebRTC                bool        `yaml:"webrtc"`
	WebRTCAddress         string      `yaml:"webrtcAddress"`
	WebRTCAllowOrigins    []string    `yaml:"webrtcAllowOrigins"`
	WebRTCAdditionalHosts []string    `yaml:"webrtcAdditionalHosts"`
	WebRTCLocalUDPAddress string      `yaml:"webrtcLocalUDPAddress"`
	WebRTCLocalTCPAddress string      `yaml:"webrtcLocalTCPAddress"`
	WebRTCICEServers2     []ICEServer `yaml:"webrtcICEServers2"`
	WebRTCEncryption      bool        `yaml:"webrtcEncryption,omitempty"`
	WebRTCServerKey       string      `yaml:"webrtcServerKey,omitempty"`
	WebRTCServerCert      string      `yaml:"webrtcServerCert,omitempty"`
	// WebRTCSTUNGatherTimeout bounds MediaMTX's wait for its STUN
	// servers before it answers a WHEP offer (its default, 5 s, is also
	// the wait for every offer when a STUN server does not answer).
	WebRTCSTUNGatherTimeout Duration `yaml:"webrtcSTUNGatherTimeout"`

	Paths map[string]PathConf `yaml:"paths"`
}

// AuthUser is one entry of authInternalUsers. User and Pass are "any" and
// "" or sha256 hashes (see credential).
type AuthUser struct {
	User        string       `yaml:"user" json:"user"`
	Pass        string       `yaml:"pass" json:"pass"`
	IPs         []string     `yaml:"ips" json:"ips"`
	Permissions []Permission `yaml:"permissions" json:"permissions"`
}

// Permission is one action on one path ("" for api and metrics).
type Permission struct {
	Action string `yaml:"action" json:"action"`
	Path   string `yaml:"path,omitempty" json:"path,omitempty"`
}

// ICEServer is one entry of webrtcICEServers2.
type ICEServer struct {
	URL      string `yaml:"url" json:"url"`
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
}

// PathConf is one entry of paths, in the config file and in the API's
// /v3/config/paths bodies alike.
type PathConf struct {
	RunOnDemand             string   `yaml:"runOnDemand,omitempty" json:"runOnDemand,omitempty"`
	RunOnDemandRestart      bool     `yaml:"runOnDemandRestart" json:"runOnDemandRestart"`
	RunOnDemandStartTimeout Duration `yaml:"runOnDemandStartTimeout,omitempty" json:"runOnDemandStartTimeout,omitempty"`
	RunOnDemandCloseAfter   Duration `yaml:"runOnDemandCloseAfter,omitempty" json:"runOnDemandCloseAfter,omitempty"`
}

// Duration is written as MediaMTX reads durations: a string such as "10s".
type Duration time.Duration

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// RenderConfig renders the MediaMTX configuration file for c.
func RenderConfig(c ConfigInput) ([]byte, error) {
	cfg, err := NewConfig(c)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(cfg)
}

// WriteConfig renders c and replaces the file at path atomically, so
// MediaMTX (which watches the file) never reads half of it.
func WriteConfig(path string, c ConfigInput) error {
	data, err := RenderConfig(c)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".mediamtx-*.yml")
	if err != nil {
		return fmt.Errorf("mediamtx config: %w", err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("mediamtx config %s: %w", path, err)
	}
	return nil
}

// NewConfig builds the configuration for c: only the listed paths exist
// (no all_others, so other names are 404), anyone reads the paths without
// read credentials, publishing needs the path's credentials from loopback,
// and the API and metrics answer loopback only.
func NewConfig(c ConfigInput) (Config, error) {
	var paths []engine.Path
	confs := make(map[string]PathConf, len(c.Paths))
	for _, p := range c.Paths {
		if _, dup := confs[p.Name]; dup {
			return Config{}, fmt.Errorf("mediamtx config: path %q listed twice", p.Name)
		}
		pc, err := NewPathConf(p, c.Hook)
		if err != nil {
			return Config{}, err
		}
		confs[p.Name] = pc
		paths = append(paths, p.Path)
	}
	users, err := AuthUsers(paths)
	if err != nil {
		return Config{}, err
	}
	udp := c.WebRTCLocalUDPAddress
	if udp == "" {
		udp = ":0"
	}
	anyOrigin := []string{"*"}
	cfg := Config{
		LogLevel:          "info",
		LogDestinations:   []string{"stdout"},
		ReadTimeout:       Duration(c.ReadTimeout),
		WriteTimeout:      Duration(c.WriteTimeout),
		AuthMethod:        "internal",
		AuthInternalUsers: users,

		API:             true,
		APIAddress:      net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Ports.API)),
		APIAllowOrigins: anyOrigin,

		RTSP:           true,
		RTSPTransports: []string{"udp", "tcp"},
		RTSPAddress:    listenAddress(c.BindHost, c.Ports.RTSP),
		RTPAddress:     listenAddress(c.BindHost, c.Ports.RTP),
		RTCPAddress:    listenAddress(c.BindHost, c.Ports.RTP+1),

		HLS:                true,
		HLSAddress:         listenAddress(c.BindHost, c.Ports.HLS),
		HLSAllowOrigins:    anyOrigin,
		HLSVariant:         HLSVariant(c.HLSVariant),
		HLSSegmentDuration: Duration(HLSSegmentDuration),
		HLSPartDuration:    Duration(HLSPartDuration),

		WebRTC:                  true,
		WebRTCAddress:           listenAddress(c.BindHost, c.Ports.WebRTC),
		WebRTCAllowOrigins:      anyOrigin,
		WebRTCAdditionalHosts:   nonNil(c.WebRTCAdditionalHosts),
		WebRTCLocalUDPAddress:   udp,
		WebRTCLocalTCPAddress:   c.WebRTCLocalTCPAddress,
		WebRTCICEServers2:       ICEServers(c.ICEServers),
		WebRTCSTUNGatherTimeout: Duration(STUNGatherTimeout),

		Paths: confs,
	}
	if c.TLSCertFile != "" || c.TLSKeyFile != "" {
		if c.TLSCertFile == "" || c.TLSKeyFile == "" {
			return Config{}, errors.New("mediamtx config: TLS needs both a certificate and a key file")
		}
		withTLS(&cfg, c)
	}
	return cfg, nil
}

// withTLS turns encryption on everywhere but the API (which our own
// client calls on loopback): RTSPS takes the RTSP port ("strict": no
// plain RTSP left, publishers use RTSPS too) and SRTP the RTP pair.
func withTLS(cfg *Config, c ConfigInput) {
	cfg.RTSPEncryption = "strict"
	cfg.RTSPSAddress = cfg.RTSPAddress
	cfg.SRTPAddress, cfg.SRTCPAddress = cfg.RTPAddress, cfg.RTCPAddress
	cfg.RTSPServerKey, cfg.RTSPServerCert = c.TLSKeyFile, c.TLSCertFile
	cfg.HLSEncryption, cfg.HLSServerKey, cfg.HLSServerCert = true, c.TLSKeyFile, c.TLSCertFile
	cfg.WebRTCEncryption, cfg.WebRTCServerKey, cfg.WebRTCServerCert = true, c.TLSKeyFile, c.TLSCertFile
}

// listenAddress is host:port, or :port for all interfaces (so MediaMTX
// listens on IPv6 too).
func listenAddress(host string, port int) string {
	if host == "0.0.0.0" || host == "::" {
		host = ""
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// NewPathConf is the configuration of one path, for the file and for the
// API's path bodies. hook is ConfigInput.Hook.
func NewPathConf(p PathInput, hook []string) (PathConf, error) {
	if err := validPathName(p.Name); err != nil {
		return PathConf{}, err
	}
	if !p.OnDemand {
		return PathConf{}, nil
	}
	cmd, err := hookCommand(hook)
	if err != nil {
		return PathConf{}, fmt.Errorf("mediamtx config: path %q: %w", p.Name, err)
	}
	start, closeAfter := p.StartTimeout, p.CloseAfter
	if start <= 0 {
		start = DefaultOnDemandStartTimeout
	}
	if closeAfter <= 0 {
		closeAfter = DefaultOnDemandCloseAfter
	}
	return PathConf{
		RunOnDemand:             cmd,
		RunOnDemandStartTimeout: Duration(start),
		RunOnDemandCloseAfter:   Duration(closeAfter),
	}, nil
}

// validPathName refuses names MediaMTX would read as something else (the
// catch-all, a regular expression) and characters that would need escaping
// in the API's URLs.
func validPathName(name string) error {
	switch {
	case name == "" || name == "all" || name == "all_others":
		return fmt.Errorf("mediamtx: path name %q is reserved by MediaMTX", name)
	case strings.Trim(name, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.") != "":
		return fmt.Errorf("mediamtx: path name %q: only letters, digits, '_', '-' and '.' are allowed", name)
	}
	return nil
}

// hookCommand joins argv into one runOnDemand string. MediaMTX splits it
// with shell quoting rules (go-shellquote, no shell) and then expands $VAR
// in every part, which no quoting prevents: so each argument is
// single-quoted when it is not plain, and '$' and control characters are
// refused.
func hookCommand(argv []string) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", errors.New("on-demand path needs a hook command")
	}
	parts := make([]string, len(argv))
	for i, a := range argv {
		if strings.ContainsFunc(a, func(r rune) bool { return r == '$' || r < 0x20 || r == 0x7f }) {
			return "", fmt.Errorf("hook argument %q: '$' and control characters cannot be passed through MediaMTX", a)
		}
		if a != "" && strings.Trim(a, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.,/:=@+%") == "" {
			parts[i] = a
		} else {
			parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(parts, " "), nil
}

// AuthUsers is authInternalUsers for paths (also for a live
// /v3/config/global/patch when the paths change): api and metrics from
// loopback; read and playback of each path for anyone, or for its read
// user; publish of each path for its publish user from loopback only.
func AuthUsers(paths []engine.Path) ([]AuthUser, error) {
	users := []AuthUser{{
		User: "any", IPs: loopback,
		Permissions: []Permission{{Action: "api"}, {Action: "metrics"}},
	}}
	anyone := AuthUser{User: "any", IPs: []string{}}
	var named []AuthUser
	for _, p := range paths {
		if err := validPathName(p.Name); err != nil {
			return nil, err
		}
		view := []Permission{{Action: "read", Path: p.Name}, {Action: "playback", Path: p.Name}}
		switch {
		case p.ReadUser == "" && p.ReadPass == "":
			anyone.Permissions = append(anyone.Permissions, view...)
		case p.ReadUser == "" || p.ReadPass == "":
			// Half a credential must not leave the path open.
			return nil, fmt.Errorf("mediamtx config: path %q: read user and password must be set together", p.Name)
		default:
			u, err := credentialUser(p.Name, "read", p.ReadUser, p.ReadPass, []string{}, view)
			if err != nil {
				return nil, err
			}
			named = append(named, u)
		}
		if p.PublishUser == "" || p.PublishPass == "" {
			return nil, fmt.Errorf("mediamtx config: path %q has no publish credentials", p.Name)
		}
		u, err := credentialUser(p.Name, "publish", p.PublishUser, p.PublishPass, loopback,
			[]Permission{{Action: "publish", Path: p.Name}})
		if err != nil {
			return nil, err
		}
		named = append(named, u)
	}
	if len(anyone.Permissions) > 0 {
		users = append(users, anyone)
	}
	return append(users, named...), nil
}

// credentialUser refuses what no client can send: control characters, and
// ':' in a user (Basic auth splits there). A ':' in a password is kept, but
// MediaMTX v1.20.1 refuses such a password over RTSP (HLS and WebRTC take it).
func credentialUser(path, what, user, pass string, ips []string, perms []Permission) (AuthUser, error) {
	if strings.ContainsRune(user, ':') {
		return AuthUser{}, fmt.Errorf("mediamtx config: path %q: %s user contains ':'", path, what)
	}
	for _, s := range []string{user, pass} {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return AuthUser{}, fmt.Errorf("mediamtx config: path %q: %s credentials contain a control character", path, what)
		}
	}
	return AuthUser{User: credential(user), Pass: credential(pass), IPs: ips, Permissions: perms}, nil
}

// credential is s as MediaMTX's sha256 form. Plain credentials are limited
// to a few characters (no ' or :), and "any" as a user would mean anyone;
// the hash takes every string as it is and keeps secrets out of the file.
func credential(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + base64.StdEncoding.EncodeToString(sum[:])
}

// ICEServers converts "stun:host:port" and "turn:user:pass@host:port" URLs
// to webrtcICEServers2 entries, without those that would fail every WebRTC
// session (see engine.UsableICEServers; the Engine logs them).
func ICEServers(urls []string) []ICEServer {
	out := []ICEServer{}
	for _, srv := range engine.UsableICEServers(urls, nil) {
		out = append(out, ICEServer{URL: srv.URL, Username: srv.Username, Password: srv.Password})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
