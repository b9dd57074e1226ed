; Inno Setup script: setup.exe for VeloLLM Desktop (Windows).
; Build the bundle first on Windows:
;   py -m pip install .[package]
;   py -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller build_scripts\velollm-desktop.spec
; then:  iscc build_scripts\windows\velollm-desktop.iss   → dist\velollm-desktop-setup.exe
#define AppVersion "0.2.0"

[Setup]
AppId={{6C0E2B51-7E1A-4C59-9B7B-5E0C2A1D7F31}
AppName=VeloLLM Desktop
AppVersion={#AppVersion}
AppPublisher=VeloLLM Desktop maintainers
DefaultDirName={autopf}\VeloLLM Desktop
DefaultGroupName=VeloLLM Desktop
OutputDir=..\..\dist
OutputBaseFilename=velollm-desktop-setup
Compression=lzma2
SolidCompression=yes
PrivilegesRequired=lowest
WizardStyle=modern

[Tasks]
Name: "startatlogin"; Description: "Start VeloLLM Desktop when I log in"; Flags: unchecked

[Files]
Source: "..\..\dist\velollm-desktop\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\VeloLLM Desktop"; Filename: "{app}\velollm-desktop.exe"
Name: "{group}\Uninstall VeloLLM Desktop"; Filename: "{uninstallexe}"

[Registry]
; The same Run value the app's own "Start at login" toggle writes (core/autostart.py).
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "VeloLLM Desktop"; ValueData: """{app}\velollm-desktop.exe"""; Flags: uninsdeletevalue; Tasks: startatlogin

[Run]
Filename: "{app}\velollm-desktop.exe"; Description: "Start VeloLLM Desktop now"; Flags: nowait postinstall skipifsilent
