extension ImageStrategy {
    /// `command` (rendered shell text) in the container serving the current release (the serving
    /// slot's, behind the traffic switch), whose environment is the app's: `shipit exec --release
    /// current`. A pseudo-terminal on the host (`exec -t`) gets one in the container too.
    public func inCurrentRelease(host: String, command: String) -> String {
        let l = layout
        return """
            D=\(ShellQuote.quote(l.deployTo)); APP=\(ShellQuote.quote(app))
            ID=; [ -f \(ShellQuote.quote(l.imageCurrent)) ] && read -r ID < \(ShellQuote.quote(l.imageCurrent))
            [ -n "$ID" ] || { echo "no current release in $D" >&2; exit 1; }
            NAME="$APP-$ID"; SLOT=
            [ -f \(ShellQuote.quote(l.slots + "/upstream.slot")) ] && read -r SLOT < \(ShellQuote.quote(l.slots + "/upstream.slot"))
            [ -z "$SLOT" ] || NAME="$APP-$ID-s$SLOT"
            T=; [ -t 0 ] && T=-t
            exec \(image.engine.map(ShellQuote.quote).joined(separator: " ")) exec -i $T "$NAME" sh -c \(ShellQuote.quote(command))
            """
    }
}
