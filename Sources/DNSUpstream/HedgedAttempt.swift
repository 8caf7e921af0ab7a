import NIOCore

/// Races an attempt against the next one, started only if the first has not answered within a delay (or fails
/// first): the first answer wins, and the query fails only when both have failed. Confined to one event loop.
final class HedgedAttempt {
    private let promise: EventLoopPromise<UpstreamAnswer>
    private let next: @Sendable ((any Error)?) -> EventLoopFuture<UpstreamAnswer>
    private var outstanding = 1
    private var nextStarted = false
    private var done = false

    private init(promise: EventLoopPromise<UpstreamAnswer>,
                 next: @escaping @Sendable ((any Error)?) -> EventLoopFuture<UpstreamAnswer>) {
        self.promise = promise
        self.next = next
    }

    /// `first`'s answer, or, if it has not answered after `delay` or fails, the first answer of either it or
    /// `next`. `first` must complete on `eventLoop`.
    static func race(_ first: EventLoopFuture<UpstreamAnswer>, hedgeAfter delay: TimeAmount,
                     next: @escaping @Sendable ((any Error)?) -> EventLoopFuture<UpstreamAnswer>,
                     on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer> {
        let race = HedgedAttempt(promise: eventLoop.makePromise(), next: next)
        let loop = eventLoop.assumeIsolated()
        let timer = loop.scheduleTask(in: delay) { race.startNext(after: nil) }
        first.assumeIsolated().whenComplete { result in
            if case .success = result { timer.cancel() }
            race.settle(result)
        }
        return race.promise.futureResult
    }

    private func startNext(after error: (any Error)?) {
        guard !self.nextStarted, !self.done else { return }
        self.nextStarted = true
        self.outstanding += 1
        self.next(error).assumeIsolated().whenComplete { self.settle($0) }
    }

    private func settle(_ result: Result<UpstreamAnswer, any Error>) {
        self.outstanding -= 1
        guard !self.done else { return }
        switch result {
        case .success(let answer):
            self.done = true
            self.promise.succeed(answer)
        case .failure(let error):
            if !self.nextStarted {
                self.startNext(after: error)
            } else if self.outstanding == 0 {
                self.done = true
                self.promise.fail(error)
            }
        }
    }
}
