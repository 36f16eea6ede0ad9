namespace Aviary.Local.Controller;

/// <summary>Writes a file atomically: a temporary file in the same folder, then a rename.</summary>
public static class AtomicFile
{
    public static void Write(string path, string content, UnixFileMode? mode = null)
    {
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        using (var stream = mode is { } m && !OperatingSystem.IsWindows()
                   ? new FileStream(temp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = m })
                   : new FileStream(temp, FileMode.Create, FileAccess.Write))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
