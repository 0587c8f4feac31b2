import FoundationEssentials

/// The front door's scripts for certificates: an ACME challenge's answer placed (or removed) where
/// every host's front door serves `/.well-known/acme-challenge/`, and the certificate a host
/// serves for the app, read back.
extension FrontDoor {
    /// A token as ACME makes them (base64url): the only characters that reach a file name.
    public static func isToken(_ s: String) -> Bool {
        (1...256).contains(s.count)
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// `answer` nil: the token's file removed.
    func challengeScript(host: String, token: String, answer: String?) -> HostScript {
        HostScript(
            .frontDoor, layout: traffic.layout, timeout: 30,
            variables: traffic.variables(host: host) + [("TOKEN", token), ("ANSWER", answer ?? "")], uses: [.fail],
            TrafficSwitch.sbinPath
                + """

                d="$NGX/acme/.well-known/acme-challenge"
                if [ -n "$ANSWER" ]; then
                  mkdir -p "$d" || fail \(ScriptExit.notWritable) "cannot create $d"
                  printf '%s' "$ANSWER" > "$d/.$TOKEN.tmp" && mv -f "$d/.$TOKEN.tmp" "$d/$TOKEN" || fail \(ScriptExit.notWritable) "cannot write $d/$TOKEN"
                  echo "challenge=placed"
                else
                  rm -f "$d/$TOKEN"
                  echo "challenge=removed"
                fi
                """)
    }

    /// `front=present` when the host's front door has the app (its file, for this deploy_to).
    func presenceScript(host: String) -> HostScript {
        HostScript(
            .frontDoor, layout: traffic.layout, timeout: 30, variables: traffic.variables(host: host), uses: [],
            TrafficSwitch.sbinPath
                + """

                f="$NGX/apps/$APP_NAME.conf"
                if [ -f "$f" ] && [ "$(head -n 1 "$f")" = "# shipit: $D" ]; then echo "front=present"; else echo "front=absent"; fi
                """)
    }

    /// The certificate chain the host's front door serves for the app (the file its servers name),
    /// base64 on one line as `cert.b64=`; `cert=none` without one.
    func servedCertificateScript(host: String) -> HostScript {
        HostScript(
            .frontDoor, layout: traffic.layout, timeout: 30, variables: traffic.variables(host: host), uses: [.fail],
            TrafficSwitch.sbinPath
                + """

                f="$NGX/apps/$APP_NAME.conf"
                c=; [ ! -f "$f" ] || c=$(sed -n 's/^ *ssl_certificate \\(certs\\/[A-Za-z0-9._-]*\\.crt\\);$/\\1/p' "$f" | head -n 1)
                if [ -z "$c" ] || [ ! -f "$NGX/$c" ]; then echo "cert=none"; exit 0; fi
                echo "cert=${c#certs/}"
                printf 'cert.b64='; base64 -w 0 < "$NGX/$c"; echo
                """)
    }
}
