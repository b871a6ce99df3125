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
