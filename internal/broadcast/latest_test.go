package broadcast

import "testing"

func TestSlowSubscriberGetsTheNewest(t *testing.T) {
	var l Latest[int]
	l.Publish(1)
	ch, cancel := l.Subscribe(true)
	defer cancel()
	if v := <-ch; v != 1 {
		t.Fatalf("current = %d, want 1", v)
	}
	for i := 2; i <= 5; i++ {
		l.Publish(i) // never blocks although nobody reads
	}
	if v := <-ch; v != 5 {
		t.Fatalf("after 4 publishes the subscriber got %d, want the newest (5)", v)
	}
	select {
	case v := <-ch:
		t.Fatalf("stale value %d left in the channel", v)
	default:
	}
}

func TestCancelStopsDelivery(t *testing.T) {
	var l Latest[string]
	ch, cancel := l.Subscribe(false)
	cancel()
	l.Publish("x")
	select {
	case v := <-ch:
		t.Fatalf("got %q after cancel", v)
	default:
	}
	if l.Current() != "x" {
		t.Fatalf("Current = %q", l.Current())
	}
}

// A Signal wakes the waiters of before a Notify, once; later waiters wait
// for the next one.
func TestSignalWakesWaitersOfTheNextNotify(t *testing.T) {
	var s Signal
	a, b := s.Wait(), s.Wait()
	select {
	case <-a:
		t.Fatal("woken before any Notify")
	default:
	}
	s.Notify()
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("a waiter was not woken")
		}
	}
	c := s.Wait()
	select {
	case <-c:
		t.Fatal("a waiter after the Notify was woken by it")
	default:
	}
	s.Notify()
	s.Notify() // with nobody waiting: nothing to do
	<-c
}
