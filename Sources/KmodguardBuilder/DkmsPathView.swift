/// DKMS's fixed paths of one build, shown as the scratch build directory. Some dkms.conf files
/// hard-code where DKMS keeps a build instead of using its variables (Debian's west-chamber
/// compiles in `/usr/src/NAME-VERSION` and moves the modules to
/// `/var/lib/dkms/NAME/VERSION/build`). DKMS runs that as root and it works; kmodguard builds as
/// nobody in a copy, so the same MAKE would be refused. As root, each build step therefore runs in
/// a private mount namespace (`unshare --mount`) where both paths are bind mounts of the build
/// directory: the source's writes land in the copy, the real `/usr/src` and `/var/lib/dkms` are
/// never touched, and the mounts end with the step.
///
/// A path that does not exist yet gets its missing directories from an overlay whose upper layer
/// is a tmpfs (nothing is created on disk) — unless that overlay would cover the build directory
/// itself (no `/var/lib/dkms` on the machine): that path is then left out, silently. A view that
/// cannot be set up is logged and the step runs without it: the build then fails as it would
/// have (`BuildFailure.writesOutsideBuildDirectory`), never silently elsewhere.
package struct DkmsPathView: Equatable, Sendable {
    /// The directory every target shows.
    package var buildDirectory: String
    /// Root-only scratch directory for the overlays' tmpfs (inside the workspace).
    package var scratch: String
    /// DKMS's paths for this build: `$source_tree/NAME-VERSION` and `$dkms_tree/NAME/VERSION/build`
    /// with DKMS's defaults.
    package var targets: [String]

    package init(buildDirectory: String, scratch: String, targets: [String]) {
        self.buildDirectory = buildDirectory
        self.scratch = scratch
        self.targets = targets
    }

    /// DKMS 3.0's own locations of `name`/`version`'s source and build trees.
    package init(name: String, version: String, workspace: BuildWorkspace) {
        self.init(buildDirectory: workspace.buildDirectory, scratch: workspace.dkmsTree + "/.view",
                  targets: ["/usr/src/" + name + "-" + version, "/var/lib/dkms/" + name + "/" + version + "/build"])
    }

    /// The argv that sets up the view, then runs the rest of the chain (appended after it) in it.
    package var prefix: [String] {
        ["/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", Self.script,
         "kmodguard-view", buildDirectory, scratch] + targets + ["--"]
    }

    /// `sh -c SCRIPT kmodguard-view BUILD SCRATCH TARGET... -- COMMAND...`, run as root in the new
    /// namespace. Messages go to the step's log.
    static let script = #"""
        build=$1 scratch=$2
        shift 2
        mount=$(command -v mount) || echo "kmodguard: no view of DKMS's paths: no mount command (package mount)" >&2
        n=0
        while [ -n "$mount" ] && [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        	target=$1
        	shift
        	n=$((n + 1))
        	if [ ! -e "$target" ]; then
        		parent=${target%/*}
        		while [ -n "$parent" ] && [ ! -d "$parent" ]; do parent=${parent%/*}; done
        		# Quietly: the usual case on a machine without DKMS (no /var/lib/dkms, the build in
        		# /var/lib/kmodguard), and a MAKE that writes there anyway names the path when it fails.
        		# (An empty parent is /, above every build.)
        		case $build/ in
        		"$parent"/*) continue ;;
        		esac
        		layer=$scratch/$n
        		if ! { mkdir -p "$layer" && mount -t tmpfs -o mode=0755 kmodguard-view "$layer" &&
        			mkdir "$layer/upper" "$layer/work" &&
        			mount -t overlay -o "lowerdir=$parent,upperdir=$layer/upper,workdir=$layer/work" kmodguard-view "$parent" &&
        			mkdir -p "$target"; }; then
        			echo "kmodguard: no view of $target (see the error above)" >&2
        			continue
        		fi
        	fi
        	if [ ! -d "$target" ]; then echo "kmodguard: no view of $target: not a directory" >&2; continue; fi
        	mount --bind "$build" "$target" || echo "kmodguard: no view of $target (see the error above)" >&2
        done
        while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done
        [ "$#" -gt 0 ] && shift
        exec "$@"
        """#
}
