using Nemcache.Tests.Support;
using Engine = Nemcache.Storage.Bitcask.Bitcask;
using Nemcache.Storage.Persistence;
using System.Runtime.Versioning;
using NUnit.Framework;

namespace Nemcache.Tests.Bitcask;

public class DataDirectoryTests : BitcaskTestBase
{
    [Test]
    public void A_second_engine_on_the_same_directory_is_refused_while_the_first_runs()
    {
        var first = Open();

        var refused = Assert.Throws<PersistenceException>(() => Open());

        Assert.That(refused!.Message, Does.Contain("in use").And.Contain("LOCK"));
        first.Dispose();
        Assert.DoesNotThrow(() => Open(), "the lock is released at shutdown");
    }

    [Test]
    public void A_stale_lock_file_left_by_a_dead_process_is_taken_over()
    {
        Directory.CreateDirectory(DataDirectory);
        File.WriteAllText(Path.Combine(DataDirectory, "LOCK"), "999999\n");

        Open().Dispose();

        Assert.That(File.ReadAllText(Path.Combine(DataDirectory, "LOCK")).Trim(), Is.EqualTo(Environment.ProcessId.ToString()));
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "Unix file modes only.")]
    [UnsupportedOSPlatform("windows")]
    public void A_new_directory_and_its_files_are_owner_only()
    {
        var engine = Open();
        engine.Put(B("a"), B("1"), 0, 0);
        engine.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(File.GetUnixFileMode(DataDirectory), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
            foreach (var file in Directory.EnumerateFiles(DataDirectory))
            {
                Assert.That(File.GetUnixFileMode(file), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), file);
            }
        });
    }

    [Test]
    public void A_directory_of_someone_elses_files_is_refused_with_one_line()
    {
        Directory.CreateDirectory(DataDirectory);
        File.WriteAllText(Path.Combine(DataDirectory, "notes.txt"), "mine");

        var refused = Assert.Throws<PersistenceException>(() => Open());

        Assert.That(refused!.Message, Does.Contain("not a Nemcache data directory").And.Not.Contain("\n"));
        Assert.That(File.Exists(Path.Combine(DataDirectory, "LOCK")), Is.False, "nothing is written into it");
    }

    [Test]
    public void A_data_file_with_a_foreign_header_is_refused()
    {
        Directory.CreateDirectory(DataDirectory);
        File.WriteAllText(Path.Combine(DataDirectory, "data.1"), "this is not a Bitcask data file at all");

        var refused = Assert.Throws<PersistenceException>(() => Open());

        Assert.That(refused!.Message, Does.Contain("data.1").And.Contain("magic"));
    }

    [Test]
    public void A_path_that_is_a_file_is_refused()
    {
        File.WriteAllText(DataDirectory, "a file");
        try
        {
            Assert.Throws<PersistenceException>(() => Open());
        }
        finally
        {
            File.Delete(DataDirectory);
        }
    }

    [Test]
    public void A_directory_shared_with_the_stream_archiver_log_is_accepted()
    {
        Directory.CreateDirectory(DataDirectory);
        File.WriteAllBytes(Path.Combine(DataDirectory, "cachelog.bin"), [1, 2, 3]);

        Assert.DoesNotThrow(() => Open());
    }

    [Test]
    public void A_stray_copy_whose_name_nemcache_does_not_write_is_ignored_with_a_warning()
    {
        var engine = Open();
        engine.Put(B("k"), B("v"), 0, 0);
        engine.Dispose();
        File.Copy(DataFilePath(1), Path.Combine(DataDirectory, "data.01"));
        File.Copy(DataFilePath(1), Path.Combine(DataDirectory, "merge.01"));
        var log = new ListLogger<Engine>();

        engine = Open(logger: log);

        Assert.That(ValueOf(engine, "k"), Is.EqualTo("v"));
        Assert.That(log.At(Microsoft.Extensions.Logging.LogLevel.Warning),
            Has.Some.Contains("data.01: ignored, Nemcache does not write files of that name"));
        Assert.That(File.Exists(Path.Combine(DataDirectory, "merge.01")), Is.True, "a stray file is never removed");
    }

    [Test]
    public void A_read_only_data_directory_is_reported_as_not_writable()
    {
        Open().Dispose();
        var source = DataDirectory;
        var readOnly = DataDirectory + "-ro";
        Directory.CreateDirectory(readOnly);
        try
        {
            if (!Mount($"--bind {source} {readOnly}") || !Mount($"-o remount,bind,ro {readOnly}"))
            {
                Assert.Ignore("needs a read-only bind mount (root)");
            }
            var refused = Assert.Throws<PersistenceException>(() => Open(readOnly));
            Assert.That(refused!.Message, Does.Contain("not writable").And.Not.Contain("in use"));
        }
        finally
        {
            Run("umount", readOnly);
            Directory.Delete(readOnly);
        }
    }

    private static bool Mount(string arguments) => Run("mount", arguments);

    private static bool Run(string command, string arguments)
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(command, arguments)
            {
                RedirectStandardError = true, RedirectStandardOutput = true,
            })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
