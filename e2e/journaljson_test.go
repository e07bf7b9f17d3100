//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Since the example logs journal-native (lifecycle.NewLogger, lifecycle/journal.go),
// a record's attributes are journal fields of their own, not part of
// MESSAGE: the scenarios that look at attributes read the journal as JSON.

// journalEntry is one entry of `journalctl -o json`.
type journalEntry map[string]any

// field returns a field's value when it is text ("" otherwise: absent,
// binary, or repeated).
func (e journalEntry) field(name string) string {
	s, _ := e[name].(string)
	return s
}

// String is the entry as a log line: PRIORITY, MESSAGE and the fields the
// service added (upper case, not journald's own).
func (e journalEntry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s", e.field("PRIORITY"), e.field("MESSAGE"))
	for k, v := range e {
		if k == "MESSAGE" || k == "PRIORITY" || strings.HasPrefix(k, "_") || strings.HasPrefix(k, "SYSLOG_") ||
			strings.HasPrefix(k, "CODE_") || k == "MESSAGE_ID" {
			continue
		}
		if _, ok := v.(string); ok && strings.ToUpper(k) == k && !strings.HasPrefix(k, "INVOCATION") {
			fmt.Fprintf(&b, " %s=%q", k, v)
		}
	}
	return b.String()
}

// journalJSON returns the unit's journal entries, oldest first.
func (c *container) journalJSON(t testing.TB, unit string) []journalEntry {
	t.Helper()
	c.run("journalctl", "--sync")
	out := c.must(t, "journalctl", "-u", unit, "--no-pager", "-o", "json")
	var es []journalEntry
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var e journalEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("journalctl -o json: %v in %q", err, line)
		}
		es = append(es, e)
	}
	return es
}

// withMessage returns the entries whose MESSAGE starts with prefix.
func withMessage(es []journalEntry, prefix string) []journalEntry {
	var r []journalEntry
	for _, e := range es {
		if strings.HasPrefix(e.field("MESSAGE"), prefix) {
			r = append(r, e)
		}
	}
	return r
}

// fromPID returns the entries logged by process pid (_PID).
func fromPID(es []journalEntry, pid string) []journalEntry {
	var r []journalEntry
	for _, e := range es {
		if e.field("_PID") == pid {
			r = append(r, e)
		}
	}
	return r
}

// lastLines renders the last n entries for a failure message.
func lastLines(es []journalEntry, n int) string {
	var b strings.Builder
	for _, e := range es[max(0, len(es)-n):] {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// writeJSONConfig writes any config value (a chiConfig with more fields)
// where the example reads it, world-readable for DynamicUser=.
func (c *container) writeJSONConfig(t testing.TB, cfg any) {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	c.writeFile(t, configPath, append(b, '\n'), 0o644)
}

// dropIn writes (or, with an empty body, removes) a drop-in of unit and
// reloads the manager.
func (c *container) dropIn(t testing.TB, unit, name, body string) {
	t.Helper()
	path := "/etc/systemd/system/" + unit + ".d/" + name
	if body == "" {
		c.must(t, "rm", "-f", path)
	} else {
		c.writeFile(t, path, []byte(body), 0o644)
	}
	c.must(t, "systemctl", "daemon-reload")
}

// environOf returns one variable of a process's environment in the
// container ("" when unset).
func (c *container) environOf(t testing.TB, pid, name string) (string, bool) {
	t.Helper()
	out := c.must(t, "cat", "/proc/"+pid+"/environ")
	for _, kv := range strings.Split(out, "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}
