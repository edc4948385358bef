package mysql

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// OptionGroups are the option-file groups ResolveConn reads, in the
// clients' order. mybak's own group comes last; as in the clients, a
// setting read later overrides one read earlier, within a file by line and
// across files by the order the files are read.
var OptionGroups = []string{"client", "client-server", "client-mariadb", "mybak"}

// DefaultSockets are the Unix sockets tried, in order, when neither the
// command line nor an option file names one: MariaDB's and MySQL's
// compiled defaults on Debian and Ubuntu, Red Hat's, and the upstream
// tarballs'. The first that exists is used; when none does, the first.
var DefaultSockets = []string{"/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/var/lib/mysql/mysql.sock", "/tmp/mysql.sock"}

// maxOptionFile bounds what is read of one option file, and
// maxIncludeDepth how deeply !include and !includedir nest (the clients
// stop at 10 as well).
const (
	maxOptionFile   = 1 << 20
	maxIncludeDepth = 10
)

// ResolveOptions says where ResolveConn looks, as the mysql and mariadb
// clients do. The zero value means the clients' defaults.
type ResolveOptions struct {
	// DefaultsFile, when set, is the only option file read (the clients'
	// --defaults-file). It excludes DefaultsExtraFile.
	DefaultsFile string
	// DefaultsExtraFile is read after the global files and before the
	// user's ~/.my.cnf (the clients' --defaults-extra-file).
	DefaultsExtraFile string
	// GlobalFiles are read first; nil means /etc/my.cnf and
	// /etc/mysql/my.cnf (files that do not exist are skipped). Then
	// $MARIADB_HOME/my.cnf or $MYSQL_HOME/my.cnf, when set.
	GlobalFiles []string
	// Home holds the user's .my.cnf; empty means $HOME.
	Home string
	// Sockets are tried when no socket is configured; nil means
	// DefaultSockets.
	Sockets []string
	// Getenv reads the environment (MYSQL_PWD, HOME, MYSQL_HOME,
	// MARIADB_HOME); nil means os.Getenv / os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// OSUser is the user name the clients default to; empty means the
	// effective user (root for uid 0, as the clients).
	OSUser string
}

// Origins of a setting that are not a file.
const (
	OriginFlag          = "command line"
	OriginDefault       = "default"
	OriginDefaultSocket = "default socket"
	OriginOSUser        = "the OS user"
)

// optionValue is one option read from a file and where.
type optionValue struct {
	value string
	from  string // "PATH line N"
}

// ResolveConn decides how c reaches its server the way the mysql and
// mariadb clients would, before anything connects or a child process
// starts. c's set fields are the command line and win; then the password
// from c.PasswordFile or MYSQL_PWD; then the option files (o), group by
// group of OptionGroups; then the defaults: with no host (or localhost),
// no port on the command line and no protocol=tcp, the server is reached
// over a Unix socket (configured, or the first of DefaultSockets that
// exists), else over TCP to port 3306; the user is the OS user.
//
// The result has every field set that a client needs (Host is
// "localhost" for a socket, Socket is empty for TCP), the password (when
// one came from a file) in Password, and Origin saying where each came
// from, for messages. Reading an option file that exists but is not
// readable, is writable by others, or has a malformed line or an
// !include of a missing file is an error naming the file and line.
func ResolveConn(c Conn, o ResolveOptions) (Conn, error) {
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	opts, files, err := readClientOptions(c, o, lookup)
	if err != nil {
		return c, err
	}
	c.files = files
	origin := map[string]string{}
	flag := func(key string, set bool) bool {
		if set {
			origin[key] = OriginFlag
		}
		return set
	}
	fromFile := func(key string) (string, bool) {
		v, ok := opts[key]
		if ok {
			origin[key] = v.from
		}
		return v.value, ok
	}
	portFlag := flag("port", c.Port != 0)
	if !flag("host", c.Host != "") {
		c.Host, _ = fromFile("host")
	}
	if !portFlag {
		if v, ok := fromFile("port"); ok {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return c, fmt.Errorf("port=%q in %s: not a TCP port", v, origin["port"])
			}
			c.Port = p
		}
	}
	if !flag("socket", c.Socket != "") {
		c.Socket, _ = fromFile("socket")
	}
	protocol, hasProtocol := fromFile("protocol")
	protocol = strings.ToLower(protocol)
	if hasProtocol && protocol != "tcp" && protocol != "socket" {
		return c, fmt.Errorf("protocol=%s in %s: mybak connects over tcp or socket only", protocol, origin["protocol"])
	}

	// The transport, as the clients decide it: localhost means the
	// socket unless TCP is asked for; a port on the command line asks for
	// TCP (MariaDB 10.6.1 and later; MySQL ignores it, which surprises).
	local := c.Host == "" || c.Host == "localhost"
	socketFlag := origin["socket"] == OriginFlag
	if socketFlag && portFlag {
		return c, fmt.Errorf("--socket %s and --port %d: a socket has no port (the clients ignore --port then): leave out one of them", c.Socket, c.Port)
	}
	socket := local && protocol != "tcp" && !portFlag
	if hasProtocol && protocol == "socket" && !local {
		return c, fmt.Errorf("protocol=socket in %s with host %s: a socket is only for localhost", origin["protocol"], c.Host)
	}
	if socket {
		if c.Socket == "" {
			c.Socket, origin["socket"] = defaultSocket(o.Sockets)
		}
		if c.Host == "" {
			c.Host, origin["host"] = "localhost", OriginDefault
		}
		c.Port = 0
		delete(origin, "port")
	} else {
		if c.Host == "" {
			c.Host, origin["host"] = "localhost", OriginDefault
		}
		if c.Port == 0 {
			c.Port, origin["port"] = 3306, OriginDefault
		}
		if socketFlag && !local {
			return c, fmt.Errorf("--socket %s with host %s: a socket is only for localhost; leave out one of them", c.Socket, c.Host)
		}
		c.Socket = ""
		delete(origin, "socket")
	}

	if !flag("user", c.User != "") {
		if v, ok := fromFile("user"); ok && v != "" {
			c.User = v
		} else {
			c.User, origin["user"] = osUser(o.OSUser, lookup), OriginOSUser
		}
	}

	switch {
	case c.Password != "":
		origin["password"] = OriginFlag
	case c.PasswordFile != "":
		origin["password"] = "--password-file " + c.PasswordFile
	default:
		if _, ok := lookup(PasswordEnv); ok {
			origin["password"] = PasswordEnv
		} else if v, ok := opts["password"]; ok && v.value != "" {
			c.Password, origin["password"] = v.value, v.from
		}
	}
	c.Origin = origin
	c.resolved = true
	return c, nil
}

// defaultSocket returns the first of candidates (DefaultSockets when nil)
// that is a socket, or the first with a note that it does not exist.
func defaultSocket(candidates []string) (string, string) {
	if candidates == nil {
		candidates = DefaultSockets
	}
	for _, s := range candidates {
		if fi, err := os.Stat(s); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			return s, OriginDefaultSocket
		}
	}
	if len(candidates) == 0 {
		return "", OriginDefaultSocket
	}
	return candidates[0], OriginDefaultSocket + ", which does not exist: is the server running, or does it listen elsewhere (--socket, --host)?"
}

// osUser is the user name the clients send when none is configured: root
// for the effective uid 0 (under sudo), else the effective user's name.
func osUser(name string, lookup func(string) (string, bool)) string {
	if name != "" {
		return name
	}
	if os.Geteuid() == 0 {
		return "root"
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	v, _ := lookup("USER")
	return v
}

// readClientOptions reads the option files o names (the clients' list
// when o is zero) and returns the last value of each option of
// OptionGroups.
func readClientOptions(c Conn, o ResolveOptions, lookup func(string) (string, bool)) (map[string]optionValue, []string, error) {
	if c.DefaultsFile != "" {
		o.DefaultsFile = c.DefaultsFile
	}
	if o.DefaultsFile != "" && o.DefaultsExtraFile != "" {
		return nil, nil, errors.New("--defaults-file is the only option file read, --defaults-extra-file adds one to the default files: give one of them")
	}
	r := &optionReader{groups: map[string]bool{}, out: map[string]optionValue{}}
	for _, g := range OptionGroups {
		r.groups[g] = true
	}
	// read are the files that exist, in the order read: a child tool is
	// given the same files, then mybak's settings (defaultsContent).
	var read []string
	readOne := func(path string, must bool) error {
		if err := r.readFile(path, 0, must); err != nil {
			return err
		}
		if _, err := os.Stat(path); err == nil {
			if abs, err := filepath.Abs(path); err == nil {
				read = append(read, abs)
			}
		}
		return nil
	}
	if o.DefaultsFile != "" {
		err := readOne(o.DefaultsFile, true)
		return r.out, read, err
	}
	files := o.GlobalFiles
	if files == nil {
		files = []string{"/etc/my.cnf", "/etc/mysql/my.cnf"}
	}
	for _, env := range []string{"MARIADB_HOME", "MYSQL_HOME"} {
		if d, ok := lookup(env); ok && d != "" {
			files = append(files[:len(files):len(files)], filepath.Join(d, "my.cnf"))
			break
		}
	}
	for _, f := range files {
		if err := readOne(f, false); err != nil {
			return nil, nil, err
		}
	}
	if o.DefaultsExtraFile != "" {
		if err := readOne(o.DefaultsExtraFile, true); err != nil {
			return nil, nil, err
		}
	}
	home := o.Home
	if home == "" {
		home, _ = lookup("HOME")
	}
	if home != "" {
		if err := readOne(filepath.Join(home, ".my.cnf"), false); err != nil {
			return nil, nil, err
		}
	}
	return r.out, read, nil
}

// optionReader collects the options of its groups from option files.
type optionReader struct {
	groups map[string]bool
	out    map[string]optionValue
}

// readFile reads one option file; a missing file is skipped unless must.
func (r *optionReader) readFile(path string, depth int, must bool) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("option file %s: !include nested more than %d deep (a loop?)", path, maxIncludeDepth)
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !must {
			return nil
		}
		return fmt.Errorf("read option file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read option file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("option file %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		// The clients skip such a file with a warning; it decides
		// where the password goes, so mybak refuses it.
		return fmt.Errorf("option file %s is writable by every user: chmod o-w %s (the clients ignore such a file; mybak will not guess)", path, path)
	}
	return r.parse(f, path, depth)
}

// parse reads the lines of an option file (see the MariaDB KB "Configuring
// MariaDB with Option Files"): comments start with # or ;, [group]
// starts a group, name[=value] sets an option (a loose- prefix is
// dropped, - and _ are the same), !include FILE and !includedir DIR (its
// *.cnf files, sorted) read further files.
func (r *optionReader) parse(rd io.Reader, path string, depth int) error {
	sc := bufio.NewScanner(io.LimitReader(rd, maxOptionFile+1))
	sc.Buffer(make([]byte, 0, 4096), maxOptionFile)
	in, n, size := false, 0, 0
	for sc.Scan() {
		n++
		size += len(sc.Bytes()) + 1
		if size > maxOptionFile {
			return fmt.Errorf("option file %s is larger than %d bytes", path, maxOptionFile)
		}
		line := strings.TrimSpace(sc.Text())
		where := fmt.Sprintf("%s line %d", path, n)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '!':
			if err := r.directive(line, where, path, depth); err != nil {
				return err
			}
			continue
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return fmt.Errorf("%s: unterminated group header %q", where, line)
			}
			in = r.groups[strings.ToLower(strings.TrimSpace(line[1:end]))]
			continue
		case !in:
			continue
		}
		k, v, hasValue := strings.Cut(line, "=")
		k = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "_", "-")
		k = strings.TrimPrefix(k, "loose-")
		if k == "" {
			return fmt.Errorf("%s: an option without a name", where)
		}
		val := ""
		if hasValue {
			val = unquoteOption(strings.TrimSpace(v))
		}
		r.out[k] = optionValue{value: val, from: where}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read option file %s: %w", path, err)
	}
	return nil
}

// directive follows !include FILE and !includedir DIR.
func (r *optionReader) directive(line, where, path string, depth int) error {
	rest := line[1:]
	i := strings.IndexAny(rest, " \t")
	if i < 0 {
		i = len(rest)
	}
	word, arg := rest[:i], strings.TrimSpace(rest[i:])
	if arg == "" {
		return fmt.Errorf("%s: %q names no file", where, line)
	}
	if !filepath.IsAbs(arg) {
		arg = filepath.Join(filepath.Dir(path), arg)
	}
	switch strings.ToLower(word) {
	case "include":
		if err := r.readFile(arg, depth+1, true); err != nil {
			return fmt.Errorf("%s: !include: %w", where, err)
		}
	case "includedir":
		ents, err := os.ReadDir(arg)
		if err != nil {
			return fmt.Errorf("%s: !includedir: %w", where, err)
		}
		var names []string
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".cnf") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, name := range names {
			if err := r.readFile(filepath.Join(arg, name), depth+1, true); err != nil {
				return fmt.Errorf("%s: !includedir: %w", where, err)
			}
		}
	default:
		return fmt.Errorf("%s: unknown directive %q (the clients know !include and !includedir)", where, line)
	}
	return nil
}

// describe is String for a resolved Conn: what is used and where each
// setting came from, e.g. "socket /run/mysqld/mysqld.sock (default
// socket), user root (from /root/.my.cnf line 2), no password".
func (c Conn) describe() string {
	from := func(key string) string {
		o := c.Origin[key]
		switch {
		case o == "":
			return ""
		case o == OriginFlag, o == OriginDefault, o == OriginOSUser, strings.HasPrefix(o, OriginDefaultSocket):
			return " (" + o + ")"
		}
		return " (from " + o + ")"
	}
	var b strings.Builder
	if c.Socket != "" && (c.Host == "" || c.Host == "localhost") {
		fmt.Fprintf(&b, "socket %s%s", c.Socket, from("socket"))
	} else {
		port := c.Port
		if port == 0 {
			port = 3306
		}
		fmt.Fprintf(&b, "host %s%s port %d%s", c.Host, from("host"), port, from("port"))
	}
	fmt.Fprintf(&b, ", user %s%s", c.User, from("user"))
	switch o := c.Origin["password"]; {
	case o == "":
		b.WriteString(", no password")
	case o == OriginFlag:
		b.WriteString(", a password")
	default:
		b.WriteString(", password from " + o)
	}
	return b.String()
}
