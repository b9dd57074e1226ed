#!/usr/bin/env bash
# Build the PyInstaller bundle and a .deb from it.
#   bash build_scripts/build_deb.sh            → dist/velollm-desktop_<version>_<arch>.deb
# Needs the `package` extra (pyinstaller) in the current Python and dpkg-deb.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
python="${PYTHON:-python3}"
version="$("$python" -c 'import velollm_desktop; print(velollm_desktop.__version__)')"
arch="$(dpkg --print-architecture)"

t0=$(date +%s)
"$python" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
    build_scripts/velollm-desktop.spec
t1=$(date +%s)

stage="build/deb/velollm-desktop_${version}_${arch}"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications"
cp -a dist/velollm-desktop "$stage/opt/velollm-desktop"
ln -s /opt/velollm-desktop/velollm-desktop "$stage/usr/bin/velollm-desktop"
ln -s /opt/velollm-desktop/velollm-desktop "$stage/usr/bin/velollm"
install -m 0644 resources/velollm-desktop.desktop "$stage/usr/share/applications/"
for png in resources/icons/velollm-desktop-*.png; do
    size="${png##*-}"; size="${size%.png}"
    install -D -m 0644 "$png" "$stage/usr/share/icons/hicolor/${size}x${size}/apps/velollm-desktop.png"
done
install -D -m 0644 resources/velollm-desktop.svg "$stage/usr/share/icons/hicolor/scalable/apps/velollm-desktop.svg"
installed_kb=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: velollm-desktop
Version: ${version}
Architecture: ${arch}
Maintainer: VeloLLM Desktop maintainers <maintainers@velollm.invalid>
Installed-Size: ${installed_kb}
Section: utils
Priority: optional
Depends: libgl1, libegl1, libfontconfig1, fonts-dejavu-core, libglib2.0-0, libdbus-1-3, libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-render-util0, libxcb-shape0
Description: LLM hardware monitor in the system tray, benchmarks and Ollama tuning
 Live GPU/CPU/RAM in the tray, honest benchmarks of Ollama, llama-server and
 OpenAI-compatible servers, speculative decoding comparison, and an Ollama
 configuration that fits this hardware and these models, with undo.
CONTROL
dpkg-deb --root-owner-group -Zgzip --build "$stage" "dist/velollm-desktop_${version}_${arch}.deb" >/dev/null
t2=$(date +%s)
echo "bundle: dist/velollm-desktop ($(du -sh dist/velollm-desktop | cut -f1), $((t1 - t0)) s)"
echo "deb: dist/velollm-desktop_${version}_${arch}.deb ($(du -sh "dist/velollm-desktop_${version}_${arch}.deb" | cut -f1), $((t2 - t1)) s)"
