import FoundationEssentials

/// `notify:` webhooks: the start is sent in the background (it never delays the run); the end is
/// awaited, bounded by each target's timeout. Failures go to the ledger, never to the outcome.
extension RunDriver {
    func notifyStart() -> Task<Void, Never>? {
        guard !config.notify.targets.isEmpty else { return nil }
        let n = notification("start", report: nil)
        let notifier = Notifier(settings: config.notify)
        let recorder = self.recorder
        return Task { await Deployment.record(await notifier.send(.start, n), event: "start", recorder: recorder) }
    }

    func notifyEnd(_ r: DeployReport, after start: Task<Void, Never>?) async {
        guard !config.notify.targets.isEmpty else { return }
        let results = await Notifier(settings: config.notify).send(.end, notification("end", report: r))
        await Deployment.record(results, event: "end", recorder: recorder)
        await start?.value
    }

}

extension Deployment {
    static func record(_ results: [String: String?], event: String, recorder: AttemptRecorder?) async {
        for (url, error) in results.sorted(by: { $0.key < $1.key }) {
            await recorder?.event(
                "notify", message: error.map { "\(event): \($0)" } ?? "\(event): delivered to \(url)", ok: error == nil)
        }
    }

}

extension RunDriver {
    func notification(_ event: String, report r: DeployReport?) -> Notification {
        let results = r?.hosts ?? run.hosts.results
        let hosts: [Notification.Host] = results.map { h in
            let status: String
            if r == nil {
                status = "pending"
            } else if h.failedStep != nil {
                status = "failed"
            } else if h.current == r?.releaseID && h.previous != h.current {
                status = "switched"
            } else {
                status = "unchanged"
            }
            return Notification.Host(
                host: h.host, previous: h.previous, current: h.current, status: status,
                error: h.error.flatMap { context.redactor.redact($0) })
        }
        let skipped = context.options.skipped.map {
            Notification.Host(host: $0.host, previous: nil, current: nil, status: "skipped", error: $0.error)
        }
        let previous = DeployReport.commonPrevious(results)
        let outcome = r?.outcome.rawValue ?? "running"
        let release = r?.releaseID ?? run.targetID
        return Notification(
            event: event, attempt: context.attemptID, operation: run.machine.operation.rawValue, app: config.app,
            stage: config.stage,
            outcome: outcome, release: release, previousRelease: previous, hosts: hosts + skipped,
            changedFiles: recorder?.snapshot.changedFiles ?? [], seconds: r?.seconds, time: Date(),
            text: Notification.text(
                event: event, operation: run.machine.operation.rawValue, app: config.app, stage: config.stage,
                release: release, outcome: outcome, hosts: hosts.count, seconds: r?.seconds))
    }
}
