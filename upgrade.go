package sdlife

import (
	"context"
	"errors"
	"fmt"
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

	// The idle keep-alive connections go to the new process with the
	// listeners: parked (between two requests, nothing of the next one
	// read) while it starts, given back if it does not take over.
	var idle []net.Conn
	srv := s.httpServer()
	if checkErr == nil {
		idle = srv.ParkIdle(s.runCtx)
	}
	child, err := s.startChild(path, checkErr, idle)
	s.mu.Lock()
	if State(s.state.Load()) != StateUpgrading {
		// A stop began meanwhile: the new process is not adopted, and
		// the connections go back to this one's drain.
		s.mu.Unlock()
		if err == nil {
			child.Stop()
		}
		srv.Unpark(idle)
		return
	}
	defer s.mu.Unlock()
	if err == nil {
		// No new connection for this process once the manager hears that
		// the reload is done: they wait in the backlog for the new one,
		// which accepts from the moment it is told it was adopted.
		s.pauseAcceptingLocked(true)
		err = child.HandOver(s.notifier)
		var failed *upgrade.Error
		if err == nil || !errors.As(err, &failed) {
			httpserve.CloseParked(idle) // the new process holds them
			s.handedOverLocked(child, err, len(idle))
			return
		}
		s.pauseAcceptingLocked(false)
	}
	srv.Unpark(idle)
	s.log.Error("sdlife: upgrade failed; still serving", "err", err)
	s.setNoteLocked(noteReload, err.Error()) // "upgrade failed: <why>"
	s.enterLocked(StateReady)
}

// startChild starts the new process with this process's listeners and
// waits until it is ready.
func (s *Service) startChild(path string, checkErr error, idle []net.Conn) (*upgrade.Child, error) {
	if checkErr != nil {
		return nil, checkErr
	}
	files, err := s.listenerFiles(idle)
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

// listenerFiles returns duplicates of every listening socket and of the
// idle connections of Options.Listen, under the names the new process's
// listeners look for (those of a hand-over through the fd store).
func (s *Service) listenerFiles(idle []net.Conn) (files []lifecycle.NamedFile, err error) {
	defer func() {
		if err != nil {
			for _, nf := range files {
				nf.File.Close()
			}
			files = nil
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sv := range s.served {
		f, err := httpserve.ListenerFile(sv.ln)
		if err != nil {
			return files, err
		}
		files = append(files, lifecycle.NamedFile{Name: sv.name, File: f})
	}
	for i, c := range idle {
		f, err := httpserve.ConnFile(c)
		if err != nil {
			return files, err
		}
		// The prefix is what the new process's Listen adopts (see
		// internal/httpserve/handover.go); the rest only has to be unique.
		name := fmt.Sprintf("%s-conn-%d-u%d", s.served[0].name, os.Getpid(), i)
		files = append(files, lifecycle.NamedFile{Name: name, File: f})
	}
	return files, nil
}

// handedOverLocked makes this process the old one: the new process is the
// main process now (or, with err, the manager was told and the new
// process is gone: the manager applies Restart= once this one exits).
// Nothing more goes to the manager but the final barrier: STATUS= stops,
// the stop sends no STOPPING=1. Connections that turned idle since the
// hand-over are closed at the drain instead of stored (the store no longer
// takes this process's descriptors). s.mu is held.
func (s *Service) handedOverLocked(child *upgrade.Child, err error, handed int) {
	if err != nil {
		s.log.Error("sdlife: the manager adopted the new process, which is gone", "pid", child.PID(), "err", err)
	} else {
		s.log.Info("sdlife: upgraded: the new process serves; draining", "pid", child.PID(), "handed_over", handed)
	}
	s.handedOver = true
	s.status.Stop()
	for _, sv := range s.served {
		sv.store.Close()
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
	all := append([]*served(nil), s.served...)
	s.mu.Unlock()
	for _, sv := range all {
		if err := sv.start(); err != nil {
			s.mu.Lock()
			s.reportFailureLocked(noteServe, "serve failed", err)
			s.mu.Unlock()
			s.requestStop(err)
			return
		}
	}
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

// pauseAcceptingLocked pauses, or resumes, accepting on every listener.
// s.mu is held.
func (s *Service) pauseAcceptingLocked(pause bool) {
	ctx, cancel := context.WithTimeout(s.runCtx, time.Second)
	defer cancel()
	for _, sv := range s.served {
		if pause {
			sv.srv.PauseAccepting(ctx)
		} else {
			sv.srv.ResumeAccepting()
		}
	}
}
