rule docker_api_propagation
{
    meta:
        title = "Script creates privileged containers through the Docker API"
        why = "A script (not the docker CLI itself) posts to the Docker Engine API to create a container that is privileged or mounts the host root: the way cryptojacking worms spread to other hosts and escape to them."
        severity = "high"
        confidence = "high"
        category = "propagation"
        technique = "T1610"

    strings:
        $create = "/containers/create" ascii
        $privileged = /"?Privileged"?[ \t]*:[ \t]*true/ nocase
        $bind_root = /"?Binds"?[ \t]*:[ \t]*\[[ \t]*\\?"\/:\//
        $pid_host = /"?PidMode"?[ \t]*:[ \t]*\\?"host/

    condition:
        filesize < 4MB and uint32(0) != 0x464c457f and $create and
        ($privileged or $bind_root or $pid_host)
}
