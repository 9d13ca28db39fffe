// Original file: deviceplugin/v1beta1/api.proto


export interface Mount {
  'container_path'?: (string);
  'host_path'?: (string);
  'read_only'?: (boolean);
}

export interface Mount__Output {
  'container_path': (string);
  'host_path': (string);
  'read_only': (boolean);
}
