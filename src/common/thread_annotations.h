// Thread-safety annotations: which mutex guards which field, and which lock a function needs, said
// in the code so that clang's -Wthread-safety checks it (scripts/lint.sh runs clang-tidy with it).
// Under other compilers (the build's g++) every macro expands to nothing.
//
// Use them with the annotated Mutex of common/mutex.h: libstdc++'s std::mutex carries no
// annotations, so the analysis cannot follow a std::lock_guard.
//
//   class Counter {
//    public:
//     void Add(int n) EXCLUDES(mu_) { MutexLock l(&mu_); total_ += n; }
//    private:
//     void AddLocked(int n) REQUIRES(mu_) { total_ += n; }
//     Mutex mu_;
//     int total_ GUARDED_BY(mu_) = 0;
//   };
#pragma once

#if defined(__clang__)
#define SC_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SC_THREAD_ANNOTATION(x)
#endif

// A type that is a lock ("mutex"), and an RAII type that holds one for its lifetime.
#define CAPABILITY(x) SC_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY SC_THREAD_ANNOTATION(scoped_lockable)

// A field read or written only with the mutex held; a pointer whose pointee is.
#define GUARDED_BY(x) SC_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) SC_THREAD_ANNOTATION(pt_guarded_by(x))

// Lock ordering between mutexes.
#define ACQUIRED_BEFORE(...) SC_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) SC_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))

// The caller must hold (REQUIRES) / must not hold (EXCLUDES) the mutex.
#define REQUIRES(...) SC_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SC_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) SC_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// The function takes (ACQUIRE) or gives up (RELEASE) the mutex and returns with it so.
#define ACQUIRE(...) SC_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SC_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) SC_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SC_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SC_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))

// Tells the analysis that the mutex is held here (checked at run time by the callee, if at all).
#define ASSERT_CAPABILITY(x) SC_THREAD_ANNOTATION(assert_capability(x))
// The function returns a reference to the given mutex.
#define RETURN_CAPABILITY(x) SC_THREAD_ANNOTATION(lock_returned(x))

// Turns the analysis off for one function: only with a comment saying why it is safe.
#define NO_THREAD_SAFETY_ANALYSIS SC_THREAD_ANNOTATION(no_thread_safety_analysis)
