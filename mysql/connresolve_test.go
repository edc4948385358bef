package mysql

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// resolveEnv is a hermetic world for ResolveConn: global files, a home
// and sockets all under one temp dir, no environment.
type resolveEnv struct {
	dir, global, home, sock string
	env                     map[string]string
}

func newResolveEnv(t *testing.T) *resolveEnv {
	t.Helper()
	dir := t.TempDir()
	e := &resolveEnv{dir: dir, global: filepath.Join(dir, "etc-my.cnf"), home: filepath.Join(dir, "home"),
		sock: filepath.Join(dir, "mysqld.sock"), env: map[string]string{}}
	if err := os.Mkdir(e.home, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return e
}

func (e *resolveEnv) opts() ResolveOptions {
	return ResolveOptions{GlobalFiles: []string{e.global}, Home: e.home, OSUser: "alice",
		Sockets:   []string{filepath.Join(e.dir, "absent.sock"), e.sock},
		LookupEnv: func(k string) (string, bool) { v, ok := e.env[k]; return v, ok }}
}

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolveConn(t *testing.T) {
	type want struct {
		host, socket, user, password string
		port                         int
		origin                       map[string]string // substrings
	}
	cases := []struct {
		name         string
		conn         Conn
		global, home string
		extra        string // DefaultsExtraFile content
		env          map[string]string
		want         want
	}{
		{name: "nothing: the default socket that exists, the OS user",
			want: want{host: "localhost", socket: "SOCK", user: "alice",
				origin: map[string]string{"socket": OriginDefaultSocket, "user": OriginOSUser}}},
		{name: "~/.my.cnf socket and user (sudo mybak on Debian)",
			home: "[client]\nsocket=/run/x.sock\nuser=root\n",
			want: want{host: "localhost", socket: "/run/x.sock", user: "root",
				origin: map[string]string{"socket": "home/.my.cnf line 2", "user": "home/.my.cnf line 3"}}},
		{name: "the global file's [client-server] socket (Debian's /etc/mysql/my.cnf)",
			global: "[client-server]\nsocket = /run/mysqld/g.sock\n",
			want:   want{host: "localhost", socket: "/run/mysqld/g.sock", user: "alice", origin: map[string]string{"socket": "etc-my.cnf line 2"}}},
		{name: "~/.my.cnf overrides the global file",
			global: "[client]\nuser=g\n", home: "[client]\nuser=h\n",
			want: want{host: "localhost", socket: "SOCK", user: "h", origin: map[string]string{"user": "home/.my.cnf line 2"}}},
		{name: "[mybak] after [client] wins",
			home: "[client]\nuser=c\n[mybak]\nuser=backup\n",
			want: want{host: "localhost", socket: "SOCK", user: "backup", origin: map[string]string{"user": "line 4"}}},
		{name: "a later line wins, as in the clients, whatever its group",
			home: "[mybak]\nuser=backup\n[client]\nuser=c\n",
			want: want{host: "localhost", socket: "SOCK", user: "c"}},
		{name: "other groups are not read",
			home: "[mysqld]\nsocket=/nope\n[mysql]\nuser=nope\n[client-mariadb]\nloose_user = m\n",
			want: want{host: "localhost", socket: "SOCK", user: "m"}},
		{name: "the command line wins",
			conn: Conn{Socket: "/flag.sock", User: "flag"}, home: "[client]\nsocket=/f.sock\nuser=f\n",
			want: want{host: "localhost", socket: "/flag.sock", user: "flag",
				origin: map[string]string{"socket": OriginFlag, "user": OriginFlag}}},
		{name: "a host: TCP, default port, the file's socket unused",
			conn: Conn{Host: "127.0.0.1"}, home: "[client]\nsocket=/f.sock\n",
			want: want{host: "127.0.0.1", port: 3306, origin: map[string]string{"port": OriginDefault}}},
		{name: "localhost with a port on the command line: TCP (MariaDB 10.6.1+)",
			conn: Conn{Host: "localhost", Port: 3307},
			want: want{host: "localhost", port: 3307, user: "alice"}},
		{name: "a port from a file does not mean TCP",
			home: "[client]\nport=3306\n",
			want: want{host: "localhost", socket: "SOCK"}},
		{name: "protocol=tcp in a file",
			home: "[client]\nprotocol=TCP\nport=3310\n",
			want: want{host: "localhost", port: 3310, origin: map[string]string{"port": "line 3"}}},
		{name: "host and port from the file",
			home: "[client]\nhost=db1.example\nport=3310\n",
			want: want{host: "db1.example", port: 3310, origin: map[string]string{"host": "line 2"}}},
		{name: "password from the file",
			home: "[client]\npassword=\"s3 #cr\\\"et\"\n",
			want: want{socket: "SOCK", password: "s3 #cr\"et", origin: map[string]string{"password": "home/.my.cnf line 2"}}},
		{name: "MYSQL_PWD wins over the file",
			home: "[client]\npassword=file\n", env: map[string]string{"MYSQL_PWD": "env"},
			want: want{socket: "SOCK", origin: map[string]string{"password": "MYSQL_PWD"}}},
		{name: "--password-file wins over MYSQL_PWD",
			conn: Conn{PasswordFile: "/pw"}, home: "[client]\npassword=file\n", env: map[string]string{"MYSQL_PWD": "env"},
			want: want{socket: "SOCK", origin: map[string]string{"password": "--password-file /pw"}}},
		{name: "a password without value is no password",
			home: "[client]\npassword\n",
			want: want{socket: "SOCK"}},
		{name: "--defaults-extra-file: after the global file, before ~/.my.cnf",
			global: "[client]\nuser=g\nhost=gh\n", extra: "[client]\nuser=x\nhost=localhost\nsocket=/x.sock\n", home: "[client]\nuser=h\n",
			want: want{host: "localhost", socket: "/x.sock", user: "h", origin: map[string]string{"socket": "extra.cnf line 4"}}},
		{name: "MYSQL_HOME/my.cnf is a global file",
			env:  map[string]string{"MYSQL_HOME": "HOMEDIR"},
			want: want{socket: "SOCK", user: "mh"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newResolveEnv(t)
			o := e.opts()
			if tc.global != "" {
				write(t, e.global, tc.global)
			}
			if tc.home != "" {
				write(t, filepath.Join(e.home, ".my.cnf"), tc.home)
			}
			if tc.extra != "" {
				o.DefaultsExtraFile = write(t, filepath.Join(e.dir, "extra.cnf"), tc.extra)
			}
			for k, v := range tc.env {
				if v == "HOMEDIR" {
					v = filepath.Join(e.dir, "mysqlhome")
					write(t, filepath.Join(v, "my.cnf"), "[client]\nuser=mh\n")
				}
				e.env[k] = v
			}
			got, err := ResolveConn(tc.conn, o)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if w.socket == "SOCK" {
				w.socket = e.sock
			}
			if w.host == "" {
				w.host = "localhost"
			}
			if w.user == "" {
				w.user = got.User
			}
			if got.Host != w.host || got.Port != w.port || got.Socket != w.socket || got.User != w.user || got.Password != w.password {
				t.Errorf("got host=%q port=%d socket=%q user=%q password=%q, want %+v", got.Host, got.Port, got.Socket, got.User, got.Password, w)
			}
			for k, sub := range w.origin {
				if !strings.Contains(got.Origin[k], sub) {
					t.Errorf("origin of %s = %q, want it to contain %q", k, got.Origin[k], sub)
				}
			}
			if s := got.String(); strings.Contains(s, "s3 #cr") || (w.password != "" && !strings.Contains(s, "password from")) {
				t.Errorf("String() = %q", s)
			}
		})
	}
}

func TestResolveConnDefaultsFileReplaces(t *testing.T) {
	e := newResolveEnv(t)
	write(t, e.global, "[client]\nuser=g\nsocket=/g.sock\n")
	write(t, filepath.Join(e.home, ".my.cnf"), "[client]\nuser=h\n")
	df := write(t, filepath.Join(e.dir, "only.cnf"), "[client]\nhost=db2\n")
	got, err := ResolveConn(Conn{DefaultsFile: df}, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if got.User != "alice" || got.Host != "db2" || got.Socket != "" || got.Port != 3306 {
		t.Errorf("--defaults-file must be the only file read: got %+v", got)
	}
	o := e.opts()
	o.DefaultsExtraFile = df
	if _, err := ResolveConn(Conn{DefaultsFile: df}, o); err == nil {
		t.Error("--defaults-file with --defaults-extra-file accepted")
	}
	if _, err := ResolveConn(Conn{DefaultsFile: filepath.Join(e.dir, "absent.cnf")}, e.opts()); err == nil || !strings.Contains(err.Error(), "absent.cnf") {
		t.Errorf("a missing --defaults-file: %v", err)
	}
}

func TestResolveConnNoSocket(t *testing.T) {
	e := newResolveEnv(t)
	o := e.opts()
	o.Sockets = []string{filepath.Join(e.dir, "a.sock"), filepath.Join(e.dir, "b.sock")}
	got, err := ResolveConn(Conn{}, o)
	if err != nil {
		t.Fatal(err)
	}
	if got.Socket != o.Sockets[0] || !strings.Contains(got.String(), "does not exist") {
		t.Errorf("got %q (%s)", got.Socket, got)
	}
}

func TestResolveConnIncludes(t *testing.T) {
	e := newResolveEnv(t)
	write(t, filepath.Join(e.dir, "conf.d", "10-a.cnf"), "[client]\nuser=a\nsocket=/a.sock\n")
	write(t, filepath.Join(e.dir, "conf.d", "20-b.cnf"), "[client]\nuser=b\n")
	write(t, filepath.Join(e.dir, "conf.d", "30-c.cnf.disabled"), "[client]\nuser=c\n")
	write(t, filepath.Join(e.dir, "pw.cnf"), "[client]\npassword=inc\n")
	write(t, e.global, "[client]\nuser=g\n!includedir "+filepath.Join(e.dir, "conf.d")+"\n!include pw.cnf\n")
	got, err := ResolveConn(Conn{}, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if got.User != "b" || got.Socket != "/a.sock" || got.Password != "inc" {
		t.Errorf("got user=%q socket=%q password=%q: want b, /a.sock (the *.cnf files sorted), inc (relative !include)", got.User, got.Socket, got.Password)
	}
	if !strings.Contains(got.Origin["user"], "20-b.cnf line 2") {
		t.Errorf("origin %q", got.Origin["user"])
	}
}

func TestResolveConnErrors(t *testing.T) {
	cases := []struct {
		name, home string
		conn       Conn
		mode       os.FileMode
		want       string
	}{
		{name: "missing !include", home: "[client]\n!include /nonexistent/x.cnf\n", want: ".my.cnf line 2: !include"},
		{name: "missing !includedir", home: "!includedir /nonexistent/d\n", want: "line 1: !includedir"},
		{name: "include loop", home: "!include .my.cnf\n", want: "nested more than"},
		{name: "unknown directive", home: "!includ x\n", want: "unknown directive"},
		{name: "no file named", home: "!include\n", want: "names no file"},
		{name: "unterminated group", home: "[client\nuser=x\n", want: "line 1: unterminated group"},
		{name: "no option name", home: "[client]\n=x\n", want: "line 2: an option without a name"},
		{name: "bad port", home: "[client]\nport=99999\n", want: "not a TCP port"},
		{name: "unknown protocol", home: "[client]\nprotocol=pipe\n", want: "protocol=pipe"},
		{name: "world-writable", home: "[client]\nuser=x\n", mode: 0o666, want: "writable by every user"},
		{name: "--socket with a remote host", conn: Conn{Host: "db1", Socket: "/s"}, want: "only for localhost"},
		{name: "--socket with --port", conn: Conn{Port: 3307, Socket: "/s"}, want: "a socket has no port"},
		{name: "protocol=socket with a remote host", home: "[client]\nhost=db1\nprotocol=socket\n", want: "only for localhost"},
		{name: "too large", home: "[client]\n" + strings.Repeat("# padding\n", maxOptionFile/10+1), want: "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newResolveEnv(t)
			if tc.home != "" {
				p := write(t, filepath.Join(e.home, ".my.cnf"), tc.home)
				if tc.mode != 0 {
					if err := os.Chmod(p, tc.mode); err != nil {
						t.Fatal(err)
					}
				}
			}
			_, err := ResolveConn(tc.conn, e.opts())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestConnDescribe(t *testing.T) {
	c := Conn{Host: "localhost", Socket: "/run/mysqld/mysqld.sock", User: "root",
		Origin: map[string]string{"socket": OriginDefaultSocket, "user": "/root/.my.cnf line 3"}}
	if got, want := c.String(), "socket /run/mysqld/mysqld.sock (default socket), user root (from /root/.my.cnf line 3), no password"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	c = Conn{Host: "db1", Port: 3307, User: "mybak", PasswordFile: "/pw",
		Origin: map[string]string{"host": OriginFlag, "port": OriginFlag, "user": OriginFlag, "password": "--password-file /pw"}}
	if got, want := c.String(), "host db1 (command line) port 3307 (command line), user mybak (command line), password from --password-file /pw"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// FuzzOptionFile: the option-file parser never panics on any input, and
// never follows an include from it (the fuzzer starts at the nesting
// limit).
func FuzzOptionFile(f *testing.F) {
	f.Add("[client]\nuser=root\nsocket = /run/mysqld/mysqld.sock\n")
	f.Add("[client-server]\n!includedir /etc/mysql/conf.d/\n[mybak]\npassword='a\\'b' # c\n")
	f.Add("[client\n=\n!include\n")
	f.Fuzz(func(t *testing.T, s string) {
		r := &optionReader{groups: map[string]bool{"client": true, "mybak": true}, out: map[string]optionValue{}}
		if err := r.parse(strings.NewReader(s), "fuzz.cnf", maxIncludeDepth); err != nil {
			return
		}
		for k, v := range r.out {
			if k == "" || strings.HasPrefix(k, "loose-") || !strings.HasPrefix(v.from, "fuzz.cnf line ") {
				t.Errorf("accepted option %q = %+v", k, v)
			}
		}
	})
}
