import FoundationEssentials
import ShipitSupport

/// A `RunPicture` as one self-contained HTML page: inline CSS and inline SVG, no script, nothing
/// fetched (it is read offline, attached to an incident, opened from CI artifacts). Every text
/// from the ledger is escaped (`HTMLText`).
public enum ReportHTML {
    static let width = 1200.0
    static let labelWidth = 210.0
    static let right = 20.0
    static let laneHeight = 26.0
    static let axisHeight = 34.0
    static let chartHeight = 150.0
    static let palette = ["#2563eb", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d", "#ea580c"]

    public static func render(_ p: RunPicture) -> String {
        let a = p.attempt
        let e = HTMLText.escape
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>shipit report: \(e(a.app)) \(e(a.operation)) \(e(a.releaseID)) (\(e(a.id)))</title>
            <style>\(css)</style></head>
            <body>

            """
        h += header(p)
        if let f = p.failure { h += failurePanel(f) }
        h += "<section class=\"hosts\"><h2>Hosts</h2>\n" + lanesSVG(p) + legend + "</section>\n"
        if !p.gates.isEmpty {
            h += "<section class=\"gates\"><h2>Gates</h2>\n"
            for g in p.gates { h += gateFigure(g, p) }
            h += "</section>\n"
        }
        h += "</body></html>\n"
        return h
    }

    static func header(_ p: RunPicture) -> String {
        let a = p.attempt
        let e = HTMLText.escape
        var rows: [(String, String)] = [
            ("attempt", a.id), ("release", a.releaseID), ("strategy", a.strategy),
            ("started", UTCTime.short(a.startedAt)), ("took", "\(HTMLText.number(p.duration)) s"),
            ("by", "\(a.user) on \(a.machine)"), ("hosts", "\(p.lanes.count)"),
        ]
        if let c = a.commit { rows.append(("commit", c)) }
        if let err = a.error { rows.append(("error", err)) }
        let dl = rows.map { "<dt>\(e($0.0))</dt><dd>\(e($0.1))</dd>" }.joined()
        return """
            <header><h1>\(e(a.app))\(a.stage.map { " (\(e($0)))" } ?? "") · \(e(a.operation)) \(e(a.releaseID))</h1>
            <p class="outcome \(e(outcomeClass(a.outcome)))" data-outcome="\(e(a.outcome.rawValue))">\(e(a.outcome.rawValue))</p>
            <dl>\(dl)</dl></header>

            """
    }

    static func outcomeClass(_ o: LedgerAttempt.Outcome) -> String {
        switch o {
        case .succeeded: return "ok"
        case .running, .paused: return "running"
        case .interrupted: return "interrupted"
        case .failed, .rolledBack, .rollbackFailed: return "failed"
        }
    }

    static func failurePanel(_ f: RunPicture.Failure) -> String {
        let e = HTMLText.escape
        return """
            <section id="failure" class="failure" data-step="\(e(f.step))"><h2>What stopped the run</h2>
            <p><b>\(e(f.step))</b>\(f.host.map { " on <b>\(e($0))</b>" } ?? "") at +\(HTMLText.number(f.at)) s: \(e(f.message))</p></section>

            """
    }

    /// Hosts drawn in one gate's chart, and the samples of one host drawn as dots.
    static let maxSeries = 8
    static let maxDots = 300

    static func x(_ t: Double, _ p: RunPicture) -> Double {
        labelWidth + (width - labelWidth - right) * min(max(t / p.duration, 0), 1)
    }

    /// Tick spacing giving at most about ten ticks (whole hours past the list, whatever the length).
    static func tick(_ duration: Double) -> Double {
        [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400].first {
            duration / $0 <= 10
        } ?? (duration / 10 / 3600).rounded(.up) * 3600
    }

    static func axis(_ p: RunPicture, top: Double, bottom: Double) -> String {
        var s = "<g class=\"axis\">"
        let step = tick(p.duration)
        var t = 0.0
        var drawn = 0
        while t <= p.duration + 1e-9, drawn <= 12 {
            drawn += 1
            let xs = HTMLText.number(x(t, p))
            s +=
                "<line x1=\"\(xs)\" x2=\"\(xs)\" y1=\"\(HTMLText.number(top))\" y2=\"\(HTMLText.number(bottom))\"/>"
                + "<text x=\"\(xs)\" y=\"\(HTMLText.number(top - 6))\">\(seconds(t))</text>"
            t += step
        }
        return s + "</g>"
    }

    static func seconds(_ t: Double) -> String {
        t.rounded() == t ? "\(Int(t)) s" : String(cFormat: "%.1f s", t)
    }

    static func lanesSVG(_ p: RunPicture) -> String {
        let e = HTMLText.escape
        let top = axisHeight
        let height = top + laneHeight * Double(p.lanes.count) + 10
        let n = HTMLText.number
        var s =
            "<svg class=\"lanes\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-label=\"one lane per host\">"
        s += axis(p, top: top, bottom: height - 6)
        for (i, lane) in p.lanes.enumerated() {
            let y = top + laneHeight * Double(i)
            let stop = p.failure?.host == lane.host
            s +=
                "<g class=\"lane\(stop ? " stopped" : "")\" data-host=\"\(e(lane.host))\"\(lane.rolloutStep.map { " data-rollout-step=\"\($0)\"" } ?? "")>"
            s +=
                "<rect class=\"lane-bg\" x=\"0\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(laneHeight))\"/>"
            let label = (lane.rolloutStep.map { "[\($0)] " } ?? "") + lane.host
            s +=
                "<text class=\"host\" x=\"6\" y=\"\(n(y + 17))\">\(e(truncated(label, 30)))<title>\(e(lane.host))</title></text>"
            for b in lane.bars {
                let x0 = x(b.start, p)
                let w = max(x(b.end, p) - x0, 2)
                let rollback = b.step.hasPrefix("rollback")
                let tip =
                    "\(lane.host) · \(b.step): \(b.outcome), +\(n(b.start)) s to +\(n(b.end)) s"
                    + (b.message.map { "\n\($0)" } ?? "")
                s +=
                    "<rect class=\"bar \(e(b.outcome))\(rollback ? " rollback" : "")\" data-step=\"\(e(b.step))\" x=\"\(n(x0))\" y=\"\(n(y + 5))\" width=\"\(n(w))\" height=\"16\" rx=\"2\"><title>\(e(tip))</title></rect>"
                if w > 38 {
                    s +=
                        "<text class=\"bar-label\" x=\"\(n(x0 + 3))\" y=\"\(n(y + 17))\">\(e(truncated(b.step, Int(w / 6.5))))</text>"
                }
            }
            s += "</g>"
        }
        for m in p.marks {
            let xs = n(x(m.at, p))
            s +=
                "<g class=\"rollout-mark\"><line x1=\"\(xs)\" x2=\"\(xs)\" y1=\"\(n(top - 4))\" y2=\"\(n(height - 4))\"/><text x=\"\(n(x(m.at, p) + 3))\" y=\"\(n(height - 1))\">\(e(m.label))</text></g>"
        }
        if let f = p.failure { s += failureMark(f, p, top: top, bottom: height - 4) }
        return s + "</svg>\n"
    }

    static func failureMark(_ f: RunPicture.Failure, _ p: RunPicture, top: Double, bottom: Double) -> String {
        let n = HTMLText.number
        let fx = x(f.at, p)
        var s =
            "<g class=\"failure-mark\"><line x1=\"\(n(fx))\" x2=\"\(n(fx))\" y1=\"\(n(top))\" y2=\"\(n(bottom))\"/>"
        if let host = f.host, let i = p.lanes.firstIndex(where: { $0.host == host }) {
            let cy = top + laneHeight * Double(i) + 13
            s += "<circle cx=\"\(n(fx))\" cy=\"\(n(cy))\" r=\"7\"/>"
        }
        return s + "<title>\(HTMLText.escape("stopped here: \(f.step): \(f.message)"))</title></g>"
    }

    static func gateFigure(_ g: RunPicture.Gate, _ p: RunPicture) -> String {
        let e = HTMLText.escape
        let n = HTMLText.number
        let top = 26.0
        let bottom = chartHeight - 8
        let values = g.series.flatMap { $0.samples.compactMap(\.value) } + (g.max.map { [$0] } ?? [])
        let lo = min(values.min() ?? 0, 0)
        var hi = values.max() ?? 1
        hi = hi <= lo ? lo + 1 : hi + (hi - lo) * 0.1
        func y(_ v: Double) -> Double { bottom - (bottom - top) * (v - lo) / (hi - lo) }
        let measured = !values.isEmpty && g.series.contains { $0.samples.contains { $0.value != nil } }
        var s = "<figure class=\"gate\" data-gate=\"\(e(g.name))\"><figcaption>\(e(g.name))"
        s += g.max.map { " — must stay at or under max \(e(format($0)))" } ?? (measured ? "" : " — pass/fail")
        s += "</figcaption>"
        s +=
            "<svg viewBox=\"0 0 \(n(width)) \(n(chartHeight))\" width=\"\(n(width))\" height=\"\(n(chartHeight))\" role=\"img\">"
        s += axis(p, top: top, bottom: bottom)
        if measured {
            s += "<g class=\"scale\"><text x=\"\(n(labelWidth - 6))\" y=\"\(n(y(hi) + 4))\">\(e(format(hi)))</text>"
            s += "<text x=\"\(n(labelWidth - 6))\" y=\"\(n(y(lo) + 4))\">\(e(format(lo)))</text></g>"
        }
        if let mx = g.max {
            let ty = n(y(mx))
            s +=
                "<g class=\"threshold\" data-max=\"\(e(format(mx)))\"><line x1=\"\(n(labelWidth))\" x2=\"\(n(width - right))\" y1=\"\(ty)\" y2=\"\(ty)\"/><text x=\"\(n(width - right))\" y=\"\(n(y(mx) - 4))\">max \(e(format(mx)))</text></g>"
        }
        // The rows a chart has room for; the rest are counted (their failed samples are in the
        // run's failure and the hosts' lanes).
        let shown = g.series.prefix(maxSeries)
        if g.series.count > maxSeries {
            s +=
                "<text class=\"series-name\" x=\"6\" y=\"\(n(bottom))\">+\(g.series.count - maxSeries) more host(s)</text>"
        }
        for (i, series) in shown.enumerated() {
            let colour = palette[i % palette.count]
            let name = series.host.isEmpty ? "fleet" : series.host
            s += "<g class=\"series\" data-series=\"\(e(name))\" style=\"--c:\(colour)\">"
            let rowY = top + 10 + Double(i) * 14
            if measured {
                let points = series.samples.compactMap { sm in sm.value.map { "\(n(x(sm.at, p))),\(n(y($0)))" } }
                if points.count > 1 { s += "<polyline points=\"\(points.joined(separator: " "))\"/>" }
            }
            // A long bake on many hosts: its passing samples are the line, not a dot each.
            let dots = series.samples.count <= maxDots
            for sm in series.samples where dots || !sm.ok {
                // A sample without a number (a health check, a failed request) sits on its host's row.
                let cy = measured ? sm.value.map(y) ?? bottom : min(rowY, bottom)
                s +=
                    "<circle class=\"sample \(sm.ok ? "ok" : "failed")\" cx=\"\(n(x(sm.at, p)))\" cy=\"\(n(cy))\" r=\"\(sm.ok ? "3" : "5")\"><title>\(e("\(name) +\(n(sm.at)) s: \(sm.detail)"))</title></circle>"
            }
            s += "</g>"
            s +=
                "<text class=\"series-name\" x=\"6\" y=\"\(n(rowY + 4))\" style=\"fill:\(colour)\">\(e(truncated(name, 30)))</text>"
        }
        if let f = p.failure, f.step == "gate \(g.name)" {
            s += failureMark(
                RunPicture.Failure(at: f.at, host: nil, step: f.step, message: f.message), p, top: top, bottom: bottom)
        }
        return s + "</svg></figure>\n"
    }

    static func format(_ v: Double) -> String {
        v.rounded() == v && abs(v) < 1e12 ? "\(Int(v))" : String(cFormat: "%.4g", v)
    }

    static func truncated(_ s: String, _ count: Int) -> String {
        s.count <= count ? s : String(s.prefix(max(count - 1, 1))) + "…"
    }

    static let legend = """
        <ul class="legend"><li><span class="key ok"></span>ok</li><li><span class="key failed"></span>failed</li>\
        <li><span class="key running"></span>running / not finished</li><li><span class="key interrupted"></span>interrupted</li>\
        <li><span class="key ok rollback"></span>rollback (hatched)</li><li><span class="key mark"></span>rollout step starts</li>\
        <li><span class="key stop"></span>what stopped the run</li></ul>

        """

    static let css = """
        body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px 24px;color:#111827;background:#fff}
        h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}dt{color:#6b7280}dd{margin:0;white-space:pre-wrap}
        .outcome{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;margin:4px 0;color:#fff}
        .outcome.ok{background:#16a34a}.outcome.failed{background:#dc2626}.outcome.running{background:#6b7280}.outcome.interrupted{background:#d97706}
        .failure{border:2px solid #dc2626;background:#fef2f2;padding:4px 12px;border-radius:6px;white-space:pre-wrap}
        svg{max-width:100%;height:auto;display:block;font-size:12px}
        .lane-bg{fill:#fff}.lane:nth-child(even) .lane-bg{fill:#f9fafb}.lane.stopped .lane-bg{fill:#fef2f2}
        .host{fill:#111827;font-family:ui-monospace,monospace}
        .bar.ok{fill:#16a34a}.bar.failed{fill:#dc2626}.bar.running{fill:#9ca3af}.bar.interrupted{fill:#d97706}
        .bar.rollback{fill-opacity:.55;stroke:#111827;stroke-dasharray:3 2}
        .bar-label{fill:#fff;font-size:11px;pointer-events:none}
        .axis line{stroke:#e5e7eb}.axis text{fill:#6b7280;text-anchor:middle;font-size:11px}
        .rollout-mark line{stroke:#2563eb;stroke-width:2;stroke-dasharray:6 3}.rollout-mark text{fill:#2563eb;font-weight:600}
        .failure-mark line{stroke:#dc2626;stroke-width:2}.failure-mark circle{fill:none;stroke:#dc2626;stroke-width:3}
        .gate{margin:8px 0 14px}figcaption{font-weight:600}
        .threshold line{stroke:#dc2626;stroke-dasharray:8 4;stroke-width:1.5}.threshold text{fill:#dc2626;text-anchor:end;font-size:11px}
        .scale text{fill:#6b7280;text-anchor:end;font-size:11px}
        .series polyline{fill:none;stroke:var(--c);stroke-width:2}
        .sample.ok{fill:var(--c)}.sample.failed{fill:#dc2626;stroke:#111827}
        .legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:14px;color:#374151}
        .key{display:inline-block;width:14px;height:10px;margin-right:5px;border-radius:2px}
        .key.ok{background:#16a34a}.key.failed{background:#dc2626}.key.running{background:#9ca3af}.key.interrupted{background:#d97706}
        .key.rollback{opacity:.55;outline:1px dashed #111827}.key.mark{background:#2563eb;width:3px}.key.stop{border:2px solid #dc2626;border-radius:7px;width:8px;height:8px}
        """
}
