package fxapp_test

import (
	"testing"

	"example.com/adoption/fxapp"
	"example.com/adoption/internal/apptest"
)

func TestReadyAndStatusCounts(t *testing.T)       { apptest.ReadyAndStatusCounts(t, fxapp.Run) }
func TestReloadGoodAndBad(t *testing.T)           { apptest.ReloadGoodAndBad(t, fxapp.Run) }
func TestWatchdogStopsWhenUnhealthy(t *testing.T) { apptest.WatchdogStopsWhenUnhealthy(t, fxapp.Run) }
func TestStopDrainsWithoutLoss(t *testing.T)      { apptest.StopDrainsWithoutLoss(t, fxapp.Run) }
