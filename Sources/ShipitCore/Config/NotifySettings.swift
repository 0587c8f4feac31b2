import FoundationEssentials

/// `notify:` in shipit.yml: webhooks told when a deploy or rollback starts and ends.
public struct NotifySettings: Sendable, Equatable {
    public enum Event: String, Sendable, CaseIterable { case start, end }

    public struct Target: Sendable, Equatable {
        public var url: URL
        /// The environment variable holding the HMAC secret (never the secret itself in the config).
        public var secretEnv: String?
        public var events: Set<Event> = Set(Event.allCases)
        /// Seconds the whole notification may take, retries included.
        public var timeout: Double = 5
    }

    public var targets: [Target] = []

    static func parse(_ r: YAMLReader) throws -> NotifySettings {
        var s = NotifySettings()
        for item in try r.sequence() {
            let m = try item.mapping(allowed: ["url", "secret_env", "events", "timeout"])
            guard let ur = m["url"] else { throw item.fail("missing 'url'") }
            let text = try ur.string()
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ur.fail("expected an http:// or https:// URL")
            }
            var t = Target(url: url)
            if let v = m["secret_env"] {
                let name = try v.string()
                guard RemoteCommand.isValidEnvName(name) else { throw v.fail("expected an environment variable name") }
                t.secretEnv = name
            }
            if let v = m["events"] {
                var events = Set<Event>()
                for e in try v.stringList() {
                    guard let ev = Event(rawValue: e) else { throw v.fail("expected 'start' and/or 'end'") }
                    events.insert(ev)
                }
                t.events = events
            }
            if let v = m["timeout"] { t.timeout = try v.double(0.1...60) }
            s.targets.append(t)
        }
        return s
    }
}
