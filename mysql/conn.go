package mysql

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"
)

// PasswordEnv is the environment variable read for the password when a Conn
// has neither Password nor PasswordFile, as the MySQL clients read MYSQL_PWD.
// It is never passed on to child processes.
const PasswordEnv = "MYSQL_PWD"

// Conn says how to reach a server. The zero value means the client defaults
// (the tools' own option files, localhost). Secrets stay out of argv and
// off the disk: child processes get them through an inherited in-memory
// --defaults-extra-file (see Command).
type Conn struct {
	Host   string // host name or IP; empty with Socket set means the socket
	Port   int    // TCP port; 0 means the default (3306)
	Socket string // Unix socket path
	User   string

	// Password is used as is when set. Otherwise PasswordFile (first line,
	// trailing newline removed) is read; otherwise the environment variable
	// PasswordEnv; otherwise DefaultsFile may provide one.
	Password     string
	PasswordFile string

	// DefaultsFile is an option file of the user (like ~/.my.cnf). Child
	// processes read it through an !include in the generated defaults file,
	// before mybak's own settings; Open reads its [client] section for the
	// values not set above.
	DefaultsFile string

	// Origin says where each setting ("host", "port", "socket", "user",
	// "password") came from: OriginFlag, a file and line, an environment
	// variable, OriginDefault. ResolveConn fills it; String shows it.
	Origin map[string]string

	resolved bool // set by ResolveConn: the option files were read
	// files are the option files ResolveConn read, in order: a child gets
	// them (!include) before mybak's resolved settings, and no others.
	files []string
}

// ResolvePassword returns the password Conn stands for (see Conn.Password)
// and whether one was given at all.
func (c Conn) ResolvePassword() (string, bool, error) {
	if c.Password != "" {
		return c.Password, true, nil
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", false, fmt.Errorf("read password file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimSuffix(line, "\r"), true, nil
	}
	if v, ok := os.LookupEnv(PasswordEnv); ok {
		return v, true, nil
	}
	return "", false, nil
}

// String describes the connection for messages; it never contains the password.
func (c Conn) String() string {
	if c.Origin != nil {
		return c.describe()
	}
	who := c.User
	if who == "" {
		who = "(default user)"
	}
	switch {
	case c.Socket != "" && c.Host == "":
		return fmt.Sprintf("%s via socket %s", who, c.Socket)
	case c.Host != "" || c.Port != 0:
		host := c.Host
		if host == "" {
			host = "localhost"
		}
		port := c.Port
		if port == 0 {
			port = 3306
		}
		return fmt.Sprintf("%s@%s", who, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	return who + " (client defaults)"
}

// effective fills the fields left empty from DefaultsFile's [client] and
// [mysql] sections, as the clients would.
func (c Conn) effective() (Conn, error) {
	if c.DefaultsFile == "" || c.resolved {
		return c, nil
	}
	f, err := os.Open(c.DefaultsFile)
	if err != nil {
		return c, fmt.Errorf("read defaults file: %w", err)
	}
	defer f.Close()
	opts, err := ParseOptionFile(f, "client", "client-server", "client-mariadb", "mysql")
	if err != nil {
		return c, fmt.Errorf("parse defaults file %s: %w", c.DefaultsFile, err)
	}
	if c.Host == "" {
		c.Host = opts["host"]
	}
	if c.Port == 0 && opts["port"] != "" {
		c.Port, _ = strconv.Atoi(opts["port"])
	}
	if c.Socket == "" {
		c.Socket = opts["socket"]
	}
	if c.User == "" {
		c.User = opts["user"]
	}
	if _, ok, _ := c.ResolvePassword(); !ok {
		c.Password = opts["password"]
	}
	return c, nil
}

// ParseOptionFile reads a MySQL option file and returns the options of the
// given groups; a later line overrides an earlier one. Keys are lower-cased
// with '-' turned into '_' (so "host", "port", "socket", "user",
// "password"); values are unquoted. !include lines are not followed.
func ParseOptionFile(r io.Reader, groups ...string) (map[string]string, error) {
	want := map[string]bool{}
	for _, g := range groups {
		want[strings.ToLower(g)] = true
	}
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '!' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("unterminated group header %q", line)
			}
			in = want[strings.ToLower(strings.TrimSpace(line[1:end]))]
			continue
		}
		if !in {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		k = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "-", "_")
		out[k] = unquoteOption(strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func unquoteOption(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
				switch v[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case 'b':
					b.WriteByte('\b')
				case 's':
					b.WriteByte(' ')
				case '\\', '"', '\'':
					b.WriteByte(v[i])
				default:
					b.WriteByte('\\')
					b.WriteByte(v[i])
				}
				continue
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	// Unquoted: a trailing comment starts with #.
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

// quoteOption quotes a value for an option file so that any byte string
// (quotes, backslashes, '#', spaces, newlines) reads back unchanged.
func quoteOption(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// defaultsContent renders conn (and extra options per group) as a MySQL
// option file for one child process: an !include of conn.DefaultsFile
// first, then the connection settings and password in each of groups.
func defaultsContent(conn *Conn, groups []string, extra map[string]map[string]string) ([]byte, error) {
	var b strings.Builder
	b.WriteString("# written by mybak for one child process; never stored on disk\n")
	if conn != nil && conn.resolved {
		// The child reads what mybak read, in the same order, then
		// mybak's settings last: its own search (~/.my.cnf after an
		// extra file) cannot override what mybak resolved and reported.
		for _, f := range conn.files {
			fmt.Fprintf(&b, "!include %s\n", f)
		}
	} else if conn != nil && conn.DefaultsFile != "" {
		abs, err := filepath.Abs(conn.DefaultsFile)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("defaults file: %w", err)
		}
		fmt.Fprintf(&b, "!include %s\n", abs)
	}
	var connOpts [][2]string
	if conn != nil {
		if conn.Host != "" {
			connOpts = append(connOpts, [2]string{"host", conn.Host})
		}
		if conn.Port != 0 {
			connOpts = append(connOpts, [2]string{"port", strconv.Itoa(conn.Port)})
		}
		if conn.Socket != "" {
			connOpts = append(connOpts, [2]string{"socket", conn.Socket})
		}
		if conn.Host != "" && conn.Socket == "" {
			connOpts = append(connOpts, [2]string{"protocol", "tcp"})
		}
		if conn.User != "" {
			connOpts = append(connOpts, [2]string{"user", conn.User})
		}
		pw, ok, err := conn.ResolvePassword()
		if err != nil {
			return nil, err
		}
		if ok {
			connOpts = append(connOpts, [2]string{"password", pw})
		}
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "[%s]\n", g)
		for _, kv := range connOpts {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], quoteOption(kv[1]))
		}
		for k, v := range extra[g] {
			fmt.Fprintf(&b, "%s=%s\n", k, quoteOption(v))
		}
	}
	for g, kv := range extra {
		if contains(groups, g) {
			continue
		}
		fmt.Fprintf(&b, "[%s]\n", g)
		for k, v := range kv {
			fmt.Fprintf(&b, "%s=%s\n", k, quoteOption(v))
		}
	}
	return []byte(b.String()), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Open connects to the server described by conn with go-sql-driver/mysql and
// checks the connection with a ping. The caller closes the returned *sql.DB.
// A wrong user or password yields an error matching ErrAccessDenied.
func Open(ctx context.Context, conn Conn) (*sql.DB, error) {
	c, err := conn.effective()
	if err != nil {
		return nil, err
	}
	cfg := driver.NewConfig()
	cfg.User = c.User
	if cfg.User == "" {
		cfg.User = os.Getenv("USER")
	}
	pw, _, err := c.ResolvePassword()
	if err != nil {
		return nil, err
	}
	cfg.Passwd = pw
	switch {
	case c.Socket != "" && (c.Host == "" || c.Host == "localhost"):
		cfg.Net, cfg.Addr = "unix", c.Socket
	default:
		host := c.Host
		if host == "" || host == "localhost" {
			host = "127.0.0.1"
		}
		port := c.Port
		if port == 0 {
			port = 3306
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	}
	cfg.Timeout = 10 * time.Second
	cfg.ParseTime = false
	cfg.InterpolateParams = false
	// The server's max_allowed_packet, read at connect, bounds the
	// statements, not the driver's default of 64 MiB: a logical restore
	// sends rows as long as the target allows.
	cfg.MaxAllowedPacket = 0
	connector, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to MySQL server %s: %w", c, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(4)
	db.SetConnMaxLifetime(time.Hour)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, classifyConnectError(c, err)
	}
	return db, nil
}

func classifyConnectError(c Conn, err error) error {
	var me *driver.MySQLError
	if errors.As(err, &me) && (me.Number == 1045 || me.Number == 1044 || me.Number == 1698) {
		return &AccessDeniedError{Who: c.String(), Detail: me.Message, err: err}
	}
	return fmt.Errorf("connect to MySQL server %s: %w (is the server running and are host/port/socket right?)", c, err)
}
