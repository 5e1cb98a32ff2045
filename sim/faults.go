package sim

import (
	"fmt"
	"strings"

	"dagger/sim/scenario"
)

// applyFault puts one fault of the scenario's timeline into effect.
func (s *Sim) applyFault(i int) {
	f := &s.sc.Faults[i]
	s.hit(faultPoint(f), 1)
	if s.cluster.action(f) {
		return
	}
	nw := s.net
	switch {
	case len(f.Partition) > 0:
		nw.partition(f.Partition)
		s.traceFault(fmt.Sprintf("partition %v", f.Partition))
	case f.OneWay != nil:
		nw.blockOneWay(f.OneWay.From, f.OneWay.To)
		s.traceFault(fmt.Sprintf("one-way %v -> %v", f.OneWay.From, f.OneWay.To))
	case f.Heal:
		nw.heal()
		s.traceFault("heal")
	case len(f.Crash) > 0:
		s.traceFault(fmt.Sprintf("crash %v lose_unsynced=%v", f.Crash, f.LoseUnsynced))
		for _, n := range f.Crash {
			ep := s.eps[n]
			s.crash(ep)
			// A machine crash also takes what a node stopped by its store
			// had not synced: its process was gone, its page cache not.
			if f.LoseUnsynced && ep.store != nil {
				lost := ep.store.loseUnsynced()
				s.stats.store.LostEvents += uint64(lost)
				s.traceFault(fmt.Sprintf("%s lost %d unsynced events", ep.name, lost))
			}
		}
	case len(f.Restart) > 0:
		s.traceFault(fmt.Sprintf("restart %v lose_state=%v restore_backup=%v", f.Restart, f.LoseState, f.RestoreBackup))
		for _, n := range f.Restart {
			ep := s.eps[n]
			if ep.up {
				continue // a store fault that has not stopped it yet
			}
			switch {
			case f.LoseState:
				ep.store = nil
			case f.RestoreBackup && ep.backup != nil:
				// The operator restored the backup and started the node as
				// usual, without --rejoin: only its peers can tell it that
				// it signed more than the backup says.
				ep.store = ep.backup.copySynced()
				s.stats.store.RestoredFromBackup++
				s.traceFault(fmt.Sprintf("%s restored from its backup: %s", ep.name, ep.store.describe()))
			}
			s.start(ep, f.LoseState)
		}
	case len(f.Backup) > 0:
		for _, n := range f.Backup {
			ep := s.eps[n]
			ep.backup = s.storeOf(ep).copySynced()
			s.traceFault(fmt.Sprintf("backup of %s: %s", ep.name, ep.backup.describe()))
		}
	case f.StoreFault != nil:
		s.storeFault(f.StoreFault)
	case f.Isolate != nil:
		nw.isolated[*f.Isolate] = true
		s.traceFault(fmt.Sprintf("isolate %d", *f.Isolate))
	case f.Degrade != nil:
		nw.degrade(*f.Degrade)
		s.traceFault(fmt.Sprintf("degrade %v -> %v", f.Degrade.From, f.Degrade.To))
	case f.ClockSkew != nil:
		s.eps[f.ClockSkew.Node].skew = int64(f.ClockSkew.Offset)
		s.traceFault(fmt.Sprintf("clock-skew %d %s", f.ClockSkew.Node, f.ClockSkew.Offset.D()))
	case f.Slow != nil:
		s.eps[f.Slow.Node].slow = int64(f.Slow.Delay)
		s.traceFault(fmt.Sprintf("slow %d %s", f.Slow.Node, f.Slow.Delay.D()))
	}
}

// faultPoint names the coverage point of a fault.
func faultPoint(f *scenario.Fault) string {
	switch {
	case len(f.Partition) > 0:
		return "fault:partition"
	case f.OneWay != nil:
		return "fault:one_way"
	case f.Heal:
		return "fault:heal"
	case len(f.Crash) > 0 && f.LoseUnsynced:
		return "fault:crash-lose-unsynced"
	case len(f.Crash) > 0:
		return "fault:crash"
	case len(f.Restart) > 0 && f.LoseState:
		return "fault:restart-lose-state"
	case len(f.Restart) > 0 && f.RestoreBackup:
		return "fault:restore-backup"
	case len(f.Backup) > 0:
		return "fault:backup"
	case len(f.Restart) > 0:
		return "fault:restart"
	case f.Isolate != nil:
		return "fault:isolate"
	case f.Degrade != nil:
		return "fault:degrade"
	case f.ClockSkew != nil:
		return "fault:clock_skew"
	case f.Slow != nil:
		return "fault:slow"
	case f.Join != nil:
		return "fault:join"
	case f.Leave != nil:
		return "fault:leave"
	case f.Remove != nil:
		return "fault:remove"
	case f.HostDown != nil:
		return "fault:host_down"
	case f.HostUp != nil:
		return "fault:host_up"
	case f.VMCrash != nil:
		return "fault:vm_crash"
	case f.StoreFault != nil:
		return "fault:store-" + f.StoreFault.Kind
	}
	return "fault:other"
}

// storeFault damages a node's store.
func (s *Sim) storeFault(sf *scenario.StoreFault) {
	ep := s.eps[sf.Node]
	switch sf.Kind {
	case scenario.StoreWriteError:
		ep.store.failNext(writeOf(sf.Write))
		s.traceFault(fmt.Sprintf("store-fault %s: its next write (%s) fails", ep.name, sf.Write))
	case scenario.StoreCorrupt:
		what, ok := ep.store.corrupt(recordOf(sf.Record), false)
		s.countDamage(ok)
		s.traceFault(fmt.Sprintf("store-fault %s: %s", ep.name, what))
	case scenario.StoreTorn:
		s.crash(ep)
		what, ok := ep.store.tear()
		s.countDamage(ok)
		s.traceFault(fmt.Sprintf("store-fault %s: crashed in a write: %s", ep.name, what))
	}
}

func (s *Sim) countDamage(damaged bool) {
	if damaged {
		s.stats.store.Damaged++
	}
}

func (s *Sim) traceFault(what string) {
	if s.trace != nil {
		s.trace.fault(s.now, strings.ReplaceAll(what, "\"", "'"))
	}
}

func (s *Sim) traceEvent(what string, ep int) {
	if s.trace != nil {
		s.trace.fault(s.now, fmt.Sprintf("%s %s", what, s.eps[ep].name))
	}
}
