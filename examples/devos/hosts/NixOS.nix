# The machine `flk install NixOS` installs: filesystems by label, as flk's
# installer expects (mkfs.ext4 -L nixos, mkfs.vfat -n boot, mkswap -L swap).
{ ... }:
{
  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;
  boot.initrd.availableKernelModules = [ "ahci" "xhci_pci" "virtio_pci" "sd_mod" "sr_mod" ];

  fileSystems."/" = { device = "/dev/disk/by-label/nixos"; fsType = "ext4"; };
  fileSystems."/boot" = { device = "/dev/disk/by-label/boot"; fsType = "vfat"; };
  swapDevices = [ { device = "/dev/disk/by-label/swap"; } ];

  networking.useNetworkd = true;
  users.users.admin = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
    # Add your key with `flk keys add ~/.ssh/id_ed25519.pub` (it lands in
    # secrets/keys/), then list it here too for the installed system.
    openssh.authorizedKeys.keyFiles = [ ];
  };
}
