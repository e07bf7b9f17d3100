package sdlife

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sdlife/sdlife/internal/httpserve"
	"github.com/sdlife/sdlife/internal/upgrade"
	"github.com/sdlife/sdlife/lifecycle"
)

// upgradePath is the binary a reload compares with the running one: the
// path ExecStart= names, which is argv[0] under systemd. "" when upgrades
// are off (Options.UpgradeTimeout negative), when there is no manager to
// adopt a new process, or when argv[0] is not absolute (not started by
// systemd).
func (s *Service) upgradePath() string {
	if s.opts.UpgradeTimeout < 0 || s.env.NotifySocket == "" || len(os.Args) == 0 || !filepath.IsAbs(os.Args[0]) {
		return ""
	}
	return os.Args[0]
}

// maybeUpgrade runs the reload as an upgrade when the binary at the
// ExecStart= path is not the running one, or cannot be run, and reports
// whether it did.
func (s *Service) maybeUpgrade() bool {
	path := s.upgradePath()
	if path == "" {
		return false
	}
	replaced, err := upgrade.Replaced(path)
	if err == nil && !replaced {
		return false
	}
	s.upgrade(path, err)
	return true
}

// upgrade puts the binary at path in this process's place: RELOADING=1,
// the new process started with the listeners, and once it reports
// READY=1, MAINPID= and READY=1 in one notification (which completes the
// reload); this process then drains and exits, sending nothing more. When
// the new process cannot serve (or checkErr says the binary cannot be
// run), it is stopped, STATUS= says "upgrade failed: <why>" and READY=1
// ends the reload: this process goes on serving. A stop that begins
// meanwhile calls the upgrade off.
func (s *Service) upgrade(path string, checkErr error) {
	s.mu.Lock()
	if ok, _ := s.enterLocked(StateUpgrading); !ok {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.log.Info("sdlife: upgrading", "path", path)

	child, err := s.startChild(path, checkErr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && State(s.state.Load()) != StateUpgrading {
		child.Stop() // stopping meanwhile: the new process is not adopted
		return
	}
	if err == nil {
		err = child.HandOver(s.notifier)
		var failed *upgrade.Error
		if err == nil || !errors.As(err, &failed) {
			s.handedOverLocked(child, err)
			return
		}
	}
	s.log.Error("sdlife: upgrade failed; still serving", "err", err)
	s.setNoteLocked(noteReload, err.Error()) // "upgrade failed: <why>"
	s.enterLocked(StateReady)
}

// startChild starts the new process with this process's listeners and
// waits until it is ready.
func (s *Service) startChild(path string, checkErr error) (*upgrade.Child, error) {
	if checkErr != nil {
		return nil, checkErr
	}
	files, err := s.listenerFiles()
	if err != nil {
		return nil, &upgrade.Error{Why: err.Error(), Err: err}
	}
	defer func() {
		for _, f := range files {
			f.File.Close()
		}
	}()
	timeout := s.opts.UpgradeTimeout
	return upgrade.Start(s.runCtx, upgrade.Config{
		Path:     path,
		Args:     os.Args[1:],
		Manager:  s.manager,
		Files:    files,
		Timeout:  timeout,
		OnExtend: func(d time.Duration) { _, _ = s.notifier.ExtendTimeout(d) },
	})
}

// listenerFiles returns duplicates of every listening socket, under the
// names the new process's listeners look for.
func (s *Service) listenerFiles() ([]lifecycle.NamedFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var files []lifecycle.NamedFile
	for _, l := range s.listening {
		f, err := httpserve.ListenerFile(l.ln)
		if err != nil {
			for _, nf := range files {
				nf.File.Close()
			}
			return nil, err
		}
		files = append(files, lifecycle.NamedFile{Name: l.name, File: f})
	}
	return files, nil
}

// handedOverLocked makes this process the old one: the new process is the
// main process now (or, with err, the manager was told and the new
// process is gone: the manager applies Restart= once this one exits).
// Nothing more goes to the manager: STATUS= stops, the stop sends no
// STOPPING=1 and no barrier. Idle connections are closed at the drain
// instead of stored (the store no longer takes this process's
// descriptors). s.mu is held.
func (s *Service) handedOverLocked(child *upgrade.Child, err error) {
	if err != nil {
		s.log.Error("sdlife: the manager adopted the new process, which is gone", "pid", child.PID(), "err", err)
	} else {
		s.log.Info("sdlife: upgraded: the new process serves; draining", "pid", child.PID())
	}
	s.handedOver = true
	s.status.Stop()
	for _, cs := range s.connStores {
		cs.Close()
	}
	s.enterLocked(StateStopping)
	s.requestStop(nil)
}

// awaitAdoption, in an upgrade's new process, waits after READY=1 until
// the old process has handed the service over, then starts accepting. A
// new process that is not adopted (the old one is gone, or stopped it)
// stops with the reason as its error, having served nothing.
func (s *Service) awaitAdoption() {
	if s.joined == nil {
		return
	}
	if err := s.joined.Wait(s.runCtx); err != nil {
		s.log.Error("sdlife: not adopted by the old process", "err", err)
		s.requestStop(err)
		return
	}
	s.log.Info("sdlife: adopted: serving")
	s.mu.Lock()
	starts := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, p := range starts {
		if err := p.srv.Start(p.ln); err != nil {
			p.ln.Close()
			s.mu.Lock()
			s.reportFailureLocked(noteServe, "serve failed", err)
			s.mu.Unlock()
			s.requestStop(err)
			return
		}
	}
}

// pendingStart is a server whose listener an upgrade's new process holds
// but does not accept from before the adoption.
type pendingStart struct {
	srv *httpserve.Server
	ln  net.Listener
}

// namedListener is a listening socket the Service serves, under the name
// it has in the fd store.
type namedListener struct {
	name string
	ln   net.Listener
}

// checkBeforeAdoption, in an upgrade's new process, runs the health checks
// once before READY=1: a new binary whose checks fail is not adopted, and
// the old process reports why (its STATUS= says "start failed: health
// checks failing: ...").
func (s *Service) checkBeforeAdoption() error {
	if s.joined == nil {
		return nil
	}
	rep := s.health.Run(s.runCtx)
	if rep.Healthy {
		return nil
	}
	var failing []string
	for _, r := range rep.Results {
		if r.Err != nil {
			failing = append(failing, r.Name+": "+r.Err.Error())
		}
	}
	return errors.New("health checks failing: " + strings.Join(failing, ", "))
}
