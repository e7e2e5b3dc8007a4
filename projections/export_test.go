package projections

// SetCrashHooks makes the live loops exit on the spot ("crash") when
// beforeCommit or beforeAck returns an error: before a batch's commit, or
// after it and before its ack. Call it before Start.
func SetCrashHooks(r *Runtime, beforeCommit, beforeAck func(projection string, checkpoint int64) error) {
	r.hooks.beforeCommit, r.hooks.beforeAck = beforeCommit, beforeAck
}

// SetConsumerHook runs f in the live loop after its catch-up check and
// before it makes its consumer. Call it before Start.
func SetConsumerHook(r *Runtime, f func(projection string, checkpoint int64)) {
	r.hooks.beforeConsumer = f
}
