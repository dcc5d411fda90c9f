# Restore, build and test, for PowerShell users. It mirrors .ci/run: the tests need memccapable from
# libmemcached-tools (on Debian: apt-get install -y libmemcached-tools), then every test runs.
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

if (-not (Get-Command memccapable -ErrorAction SilentlyContinue)) {
    Write-Error 'memccapable is missing: install libmemcached-tools (apt-get install -y libmemcached-tools)'
}

dotnet restore Nemcache.sln
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
dotnet build Nemcache.sln -c Release --no-restore
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
dotnet test Nemcache.sln -c Release --no-build
exit $LASTEXITCODE
