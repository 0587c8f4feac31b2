// Upload throughput of shipit's SSH layer (libssh2 SCP vs SFTP), for bench/run.sh.
// usage: shipit-bench upload HOST USER IDENTITY KNOWN_HOSTS FILE scp|sftp
import Foundation
import SSH

let args = CommandLine.arguments
guard args.count == 8, args[1] == "upload", let method = UploadMethod(rawValue: args[7]) else {
    FileHandle.standardError.write(Data("usage: shipit-bench upload HOST USER IDENTITY KNOWN_HOSTS FILE scp|sftp\n".utf8))
    exit(2)
}
let options = SSHOptions(authentication: [.privateKey(path: args[4])], knownHostsPath: args[5])
let session = try await SSHSession.connect(to: SSHTarget(host: args[2], user: args[3]), options: options)
let remote = "/tmp/shipit-bench-\(method.rawValue)-\(getpid())"
let start = ContinuousClock.now
let bytes = try await session.upload(localPath: args[6], remotePath: remote, method: method, timeout: 300)
let elapsed = ContinuousClock.now - start
_ = try await session.exec("rm -f \(remote)")
await session.close()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(String(format: "%.4f %d", seconds, bytes))
