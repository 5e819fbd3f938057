package import Foundation

/// A real HTTPS server on 127.0.0.1 for the database tests: Python's http.server behind TLS with
/// a certificate from a throwaway CA that the test makes with openssl. Serves `documentRoot`,
/// plus fault paths:
///   /status/CODE/…          answers CODE
///   /truncate/PATH          announces PATH's full length, sends half, closes
///   /slow/SECONDS/PATH      waits, then serves PATH
///   /flaky/N/ID/PATH        answers 503 to the first N requests for ID, then serves PATH
///                           (N may be NxCODE: `/flaky/1x500/…` answers 500 once)
///   /trickle/PATH           announces PATH's full length, then sends 5 bytes a second
///   /redirect/TARGET/…      redirects (302) to TARGET, percent-decoded
///   /loop/…                 redirects (302) to itself, forever
/// Every request's path is appended to `requests.log` (see `requests(containing:)`).
/// One server per test process; it exits (removing its directory) when the test process does.
package struct DatabaseTestServer: Sendable {
    package let port: Int
    package let caFile: String
    package let documentRoot: String
    package let directory: String

    package var base: String { "https://127.0.0.1:" + String(port) }

    /// The paths requested so far that contain `fragment` (a test's own database name), in order.
    package func requests(containing fragment: String) -> [String] {
        guard let text = try? String(contentsOfFile: directory + "/requests.log", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init).filter { $0.contains(fragment) }
    }

    package static let shared: Result<DatabaseTestServer, DatabaseTestFailure> = Result { () throws(DatabaseTestFailure) in try start() }

    package static func start() throws(DatabaseTestFailure) -> DatabaseTestServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-https-" + UUID().uuidString).path
        let documentRoot = directory + "/www"
        do {
            try FileManager.default.createDirectory(atPath: documentRoot, withIntermediateDirectories: true)
            try Data(script.utf8).write(to: URL(fileURLWithPath: directory + "/server.py"))
        } catch {
            throw DatabaseTestFailure("cannot prepare " + directory + ": " + String(describing: error))
        }
        // A CA, and a server certificate it signs for 127.0.0.1 and localhost.
        try DatabaseTestSupport.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                                          "-nodes", "-keyout", directory + "/ca.key", "-out", directory + "/ca.pem",
                                                          "-days", "2", "-subj", "/CN=kmodguard test CA",
                                                          "-addext", "basicConstraints=critical,CA:TRUE",
                                                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try DatabaseTestSupport.run("/usr/bin/openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                          "-keyout", directory + "/server.key", "-out", directory + "/server.csr",
                                                          "-subj", "/CN=127.0.0.1"])
        try Data("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".utf8)
            .writeOrFail(directory + "/server.ext")
        try DatabaseTestSupport.run("/usr/bin/openssl", ["x509", "-req", "-in", directory + "/server.csr", "-CA", directory + "/ca.pem",
                                                          "-CAkey", directory + "/ca.key", "-CAcreateserial", "-days", "2",
                                                          "-extfile", directory + "/server.ext", "-out", directory + "/server.pem"])

        let process = Process()
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "/usr/local/bin/python3"
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [directory + "/server.py", directory + "/server.pem", directory + "/server.key", documentRoot]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        do {
            try process.run()
        } catch {
            throw DatabaseTestFailure("cannot start " + python + ": " + String(describing: error))
        }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw DatabaseTestFailure("the HTTPS test server did not report its port")
        }
        DatabaseTestServerProcess.keep(process)
        return DatabaseTestServer(port: port, caFile: directory + "/ca.pem", documentRoot: documentRoot, directory: directory)
    }

    package static let script = #"""
    import http.server, os, shutil, ssl, sys, threading, time, urllib.parse

    cert, key, root = sys.argv[1], sys.argv[2], sys.argv[3]
    parent = os.getppid()
    flaky = {}
    lock = threading.Lock()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, *args):
            pass

        def redirect(self, location):
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def announce(self, relative):
            """Sends the status line and headers for the file at `relative`, with its full length; returns its bytes."""
            with open(self.translate_path(relative), "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return body

        def do_GET(self):
            with lock:
                with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "requests.log"), "a") as log:
                    log.write(self.path + "\n")
            parts = self.path.split("/")
            if len(parts) > 2 and parts[1] == "status":
                self.send_error(int(parts[2]))
                return
            if len(parts) > 2 and parts[1] == "redirect":
                self.redirect(urllib.parse.unquote(parts[2]))
                return
            if len(parts) > 2 and parts[1] == "loop":
                self.redirect(self.path)
                return
            if len(parts) > 2 and parts[1] == "trickle":
                body = self.announce("/" + "/".join(parts[2:]))
                try:
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:
                    pass
                self.close_connection = True
                return
            if len(parts) > 3 and parts[1] == "slow":
                time.sleep(float(parts[2]))
                self.path = "/" + "/".join(parts[3:])
            elif len(parts) > 4 and parts[1] == "flaky":
                with lock:
                    seen = flaky.get(parts[3], 0)
                    flaky[parts[3]] = seen + 1
                count, _, code = parts[2].partition("x")
                if seen < int(count):
                    self.send_error(int(code or 503))
                    return
                self.path = "/" + "/".join(parts[4:])
            elif len(parts) > 2 and parts[1] == "truncate":
                body = self.announce("/" + "/".join(parts[2:]))
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            super().do_GET()

    def watchdog():
        while os.getppid() == parent:
            time.sleep(0.5)
        shutil.rmtree(os.path.dirname(os.path.abspath(__file__)), ignore_errors=True)
        os._exit(0)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=watchdog, daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#
}

/// Keeps the server's Process object alive for the whole test run.
package enum DatabaseTestServerProcess {
    nonisolated(unsafe) private static var processes: [Process] = []
    private static let lock = NSLock()

    package static func keep(_ process: Process) {
        lock.lock()
        processes.append(process)
        lock.unlock()
    }
}

extension Data {
    package func writeOrFail(_ path: String) throws(DatabaseTestFailure) {
        do {
            try write(to: URL(fileURLWithPath: path))
        } catch {
            throw DatabaseTestFailure("cannot write " + path + ": " + String(describing: error))
        }
    }
}
