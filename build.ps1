# Restore, build and test, for PowerShell users. It mirrors .ci/run: the tests need memccapable and memcdump from
# libmemcached-tools, and PHP with php-memcached (on Debian: apt-get install -y libmemcached-tools php-cli
# php-memcached), then every test runs.
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

if (-not (Get-Command memccapable -ErrorAction SilentlyContinue)) {
    Write-Error 'memccapable is missing: install libmemcached-tools (apt-get install -y libmemcached-tools)'
}
if (-not (Get-Command php -ErrorAction SilentlyContinue)) {
    Write-Error 'php is missing: install php-cli and php-memcached (apt-get install -y php-cli php-memcached)'
}

dotnet restore Nemcache.sln
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
dotnet build Nemcache.sln -c Release --no-restore
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
dotnet test Nemcache.sln -c Release --no-build
exit $LASTEXITCODE
