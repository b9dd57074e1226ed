#!/usr/bin/env bash
# macOS: build "VeloLLM Desktop.app" (menu-bar app: LSUIElement) and a .dmg. Run on a Mac:
#   python3 -m pip install '.[package]' && bash build_scripts/macos/build_dmg.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
python3 -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller build_scripts/velollm-desktop.spec
app="dist/VeloLLM Desktop.app"
[ -d "$app" ] || { echo "PyInstaller did not produce $app" >&2; exit 1; }
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
version="$(python3 -c 'import velollm_desktop; print(velollm_desktop.__version__)')"
hdiutil create -volname "VeloLLM Desktop" -srcfolder "$staging" -ov -format UDZO "dist/VeloLLM-Desktop-${version}.dmg"
echo "dist/VeloLLM-Desktop-${version}.dmg"
