#if canImport(Glibc)
    import Glibc
#endif

/// A value set once on one thread and waited for on another (a detached thread's result).
public final class OneShot<Value: Sendable>: @unchecked Sendable {
    private var value: Value?
    private var cond = pthread_cond_t()
    private var lock = pthread_mutex_t()

    public init() {
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&lock)
    }

    public func set(_ v: Value) {
        pthread_mutex_lock(&lock)
        value = v
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&lock)
    }

    /// Blocks the calling thread until the value is set.
    public func wait() -> Value {
        pthread_mutex_lock(&lock)
        while value == nil { pthread_cond_wait(&cond, &lock) }
        let v = value!
        pthread_mutex_unlock(&lock)
        return v
    }
}
