# What test.sh does, for PowerShell (pwsh) users: installs the tools the tests need when they are missing (Debian's
# apt-get: libmemcached-tools for memccapable and memcdump, memcached for the side-by-side tests, php-cli and
# php-memcached for getAllKeys(), systemd for systemd-analyze), runs every test, and ends with the same closing line.
#
#   pwsh ./build.ps1 [extra dotnet test arguments, e.g. --filter Name~Bitcask]
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

$missing = @()
if (-not (Get-Command memccapable -ErrorAction SilentlyContinue) -or -not (Get-Command memcdump -ErrorAction SilentlyContinue)) { $missing += 'libmemcached-tools' }
if (-not (Get-Command memcached -ErrorAction SilentlyContinue)) { $missing += 'memcached' }
& php -r 'exit(class_exists("Memcached") ? 0 : 1);' 2>$null
if ($LASTEXITCODE -ne 0) { $missing += @('php-cli', 'php-memcached') }
if (-not (Get-Command systemd-analyze -ErrorAction SilentlyContinue)) { $missing += 'systemd' }
if ($missing.Count -gt 0) {
    $env:DEBIAN_FRONTEND = 'noninteractive'
    $apt = if ((& id -u) -eq '0') { @('apt-get') } else { @('sudo', 'apt-get') }
    & $apt[0] @($apt | Select-Object -Skip 1) update -qq
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
    & $apt[0] @($apt | Select-Object -Skip 1) install -y -qq @missing | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

dotnet test Nemcache.sln -c Release @args 2>&1 | Tee-Object -Variable output
$status = $LASTEXITCODE

# One plain closing line, whatever the test runner printed above it.
$summary = $output | Where-Object { "$_" -match '^(Passed|Failed)!' } | Select-Object -Last 1
$count = { param($name) if ("$summary" -match "${name}: +([0-9]+)") { $Matches[1] } else { '0' } }
Write-Output "$(& $count 'Passed') passed, $(& $count 'Failed') failed, $(& $count 'Skipped') skipped"
if ($status -eq 0 -and -not $summary) {
    Write-Error 'build.ps1: the test run printed no summary' -ErrorAction Continue
    $status = 1
}
exit $status
