#!/usr/bin/env bash
# cuda-sdk.sh fetches what `go build -tags cuda` needs on a machine without
# a GPU or a CUDA toolkit: the driver API header (cuda.h) and the libcuda
# link stub, into .cuda/ at the repository root (ignored by git), and
# prints the cgo variables to export. With --nvcc it also unpacks CUDA
# 11.8's nvcc (PTX only: kernels.ptx for `go generate ./model/cuda`) into
# .cuda/toolkit and prints PATH and NVCC_PREPEND_FLAGS for it.
#
# It copies this machine's own Debian apt sources, adds the non-free
# component (no host name is written into the repository), runs
# `apt-get download nvidia-cuda-dev libcuda1` (about 780 MB; plus
# nvidia-cuda-toolkit, 84 MB, for --nvcc) into a temporary folder and
# extracts only the files named above. It does nothing when they are
# already there, so run it at will.
#
# Usage:
#	eval "$(scripts/cuda-sdk.sh)"          # then: go build -tags cuda ./...
#	eval "$(scripts/cuda-sdk.sh --nvcc)"   # then also: go generate ./model/cuda
#
# gorgonia.org/cu v0.9.6 builds against the CUDA 11.8 headers of Debian
# bookworm's nvidia-cuda-dev, not against CUDA 12.8+ headers (cuCtxCreate
# became cuCtxCreate_v4); the binary runs against any newer driver's
# libcuda.so.1 (tested: driver 580, CUDA 13.0, H100). Do not link cuBLAS
# from these packages: a CUDA 13 machine has only cuBLAS 13.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cuda"
nvcc=0
[[ "${1:-}" == "--nvcc" ]] && nvcc=1
tk="$dest/toolkit/usr/lib/nvidia-cuda-toolkit/bin"

need=()
[[ -f "$dest/include/cuda.h" && -e "$dest/lib/libcuda.so" ]] || need+=(nvidia-cuda-dev libcuda1)
if [[ $nvcc == 1 && ! -x "$tk/nvcc" ]]; then
	need+=(nvidia-cuda-toolkit)
	[[ " ${need[*]} " == *" nvidia-cuda-dev "* ]] || need+=(nvidia-cuda-dev) # its headers (cuda_fp16.h, mma.h)
fi

if [[ ${#need[@]} -gt 0 ]]; then
	work="$(mktemp -d)"
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/etc" "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
	# A copy of this machine's sources with non-free added to each
	# Components line (deb822) or deb line (one-line format).
	found=0
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
		[[ -f "$f" ]] || continue
		case "$f" in
		*.sources)
			grep -q 'debian' "$f" || continue
			sed -E '/^Components:/{/non-free( |$)/!s/$/ non-free/}' "$f" >"$work/etc/$(basename "$f")"
			found=1 ;;
		*)
			grep -Eq '^deb .*debian' "$f" || continue
			grep -E '^deb .*debian' "$f" | sed -E '/ non-free( |$)/!s/$/ non-free/' >"$work/etc/$(basename "$f" .list)-$found.list"
			found=1 ;;
		esac
	done
	if [[ $found == 0 ]]; then
		echo "cuda-sdk.sh: no Debian apt source found in /etc/apt; install cuda.h and libcuda.so by hand and set CGO_CFLAGS/CGO_LDFLAGS" >&2
		exit 1
	fi
	o=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/etc"
		-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Debug::NoLocking=1")
	echo "cuda-sdk.sh: apt-get update (non-free added to a copy of the sources)" >&2
	apt-get "${o[@]}" update -qq >&2 2>/dev/null || apt-get "${o[@]}" update -qq >&2
	echo "cuda-sdk.sh: apt-get download ${need[*]}" >&2
	(cd "$work/debs" && apt-get "${o[@]}" download "${need[@]}" >&2 2>/dev/null)
	x="$work/x"
	mkdir -p "$x"
	for d in "$work"/debs/*.deb; do
		case "$(basename "$d")" in
		nvidia-cuda-dev_*) dpkg-deb --fsys-tarfile "$d" | tar -x -C "$x" ./usr/include ;;
		libcuda1_*) dpkg-deb --fsys-tarfile "$d" | tar -x -C "$x" --wildcards './usr/lib/*/libcuda.so*' ;;
		nvidia-cuda-toolkit_*) dpkg-deb --fsys-tarfile "$d" | tar -x -C "$x" ./usr/lib/nvidia-cuda-toolkit ./usr/bin ;;
		esac
	done
	if [[ ! -f "$dest/include/cuda.h" ]]; then
		mkdir -p "$dest/include" "$dest/lib"
		cp "$x/usr/include/cuda.h" "$dest/include/"
		lib="$(find "$x" -name 'libcuda.so.*' -type f | head -n1)"
		[[ -n "$lib" ]] || { echo "cuda-sdk.sh: libcuda.so.* not found in libcuda1" >&2; exit 1; }
		cp "$lib" "$dest/lib/"
		ln -sf "$(basename "$lib")" "$dest/lib/libcuda.so.1"
		ln -sf "$(basename "$lib")" "$dest/lib/libcuda.so"
		echo "cuda-sdk.sh: installed $dest/include/cuda.h and $dest/lib/$(basename "$lib")" >&2
	fi
	if [[ $nvcc == 1 && ! -x "$tk/nvcc" ]]; then
		mkdir -p "$dest/toolkit/usr"
		cp -a "$x/usr/include" "$x/usr/lib" "$x/usr/bin" "$dest/toolkit/usr/"
		# The packaged profile points at /usr; make it relative to nvcc.
		rm -f "$tk/nvcc.profile"
		cat >"$tk/nvcc.profile" <<'PROFILE'
NVVMIR_LIBRARY_DIR = $(_HERE_)/../libdevice
PATH += $(_HERE_):$(_HERE_)/../../../bin:
INCLUDES += "-I$(_HERE_)/../../../include" $(_SPACE_)
PROFILE
		echo "cuda-sdk.sh: installed nvcc 11.8 in $tk" >&2
	fi
fi

# -Wl,--unresolved-symbols=ignore-in-shared-libs: the stub's own
# dependencies (libnvidia-*) are absent here and are resolved at run time.
echo "export CGO_CFLAGS=\"-I$dest/include\""
echo "export CGO_LDFLAGS=\"-L$dest/lib -Wl,--unresolved-symbols=ignore-in-shared-libs\""
if [[ $nvcc == 1 ]]; then
	# nvcc 11.8 wants gcc <= 11 (its own gcc/g++ wrappers look for gcc-11);
	# for -ptx the machine's newer g++ works, named by absolute path.
	echo "export PATH=\"$tk:\$PATH\""
	echo "export NVCC_PREPEND_FLAGS=\"-ccbin $(command -v g++ || echo g++) --allow-unsupported-compiler\""
fi
